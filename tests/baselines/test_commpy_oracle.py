"""scikit-commpy as an independent oracle for the IEEE 802.16e LDPC code: the same parity-check matrices,
our codewords satisfy its matrix, and our decoder recovers the messages its encoder codes."""

import os

import numpy as np
import pytest

commpy = pytest.importorskip("commpy", reason="scikit-commpy is not installed")
from commpy.channelcoding import ldpc   # noqa: E402

from semcom_core.baselines.codes.wimax import WimaxLDPC, parity_check_matrix   # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")   # commpy's own, under numpy >= 1.25
DESIGNS = os.path.join(os.path.dirname(commpy.__file__), "channelcoding", "designs", "ldpc", "wimax")
# commpy's 802.16e designs: (file, our rate name, n)
CASES = [("1440.720.txt", "1/2", 1440), ("960.720.a.txt", "3/4A", 960)]


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def case(request):
    name, rate, n = request.param
    return ldpc.get_ldpc_code_params(os.path.join(DESIGNS, name), compute_matrix=True), rate, n


def test_parity_check_matrices_are_commpys(case):
    params, rate, n = case
    ours, theirs = parity_check_matrix(rate, n), params["parity_check_matrix"]
    assert ours.shape == theirs.shape and abs(ours - theirs).sum() == 0


def test_our_codewords_satisfy_commpys_matrix(case):
    params, rate, n = case
    code = WimaxLDPC(rate, n)
    words = code.encode(np.random.default_rng(1).integers(0, 2, (5, code.k), dtype=np.uint8))
    assert not ((params["parity_check_matrix"] @ words.T.astype(int)) % 2).any()


def test_our_decoder_recovers_commpys_codewords(case):
    params, rate, n = case
    code = WimaxLDPC(rate, n)
    message = np.random.default_rng(2).integers(0, 2, (4, code.k))
    words = ldpc.triang_ldpc_systematic_encode(message.ravel(), params, pad=False).T.astype(np.uint8)   # [4, n]
    assert not ((params["parity_check_matrix"] @ words.T.astype(int)) % 2).any()
    rng = np.random.default_rng(3)
    noisy = (1 - 2.0 * words) * 4.0 + rng.normal(0, 1.5, words.shape)                       # LLRs, some flipped
    result = code.decode(noisy)
    assert result.ok.all()
    np.testing.assert_array_equal(code.encode(result.bits), words)                          # the same codewords
