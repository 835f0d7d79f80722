"""Channel codes: WiMAX QC-LDPC matrices and encoder, the layered min-sum decoder against Sionna's BP,
5G NR LDPC and turbo wrappers, the factory, gr-fec and `semcom bench ldpc`."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from semcom_core.baselines.codes import NRLDPC, TurboCode, WimaxLDPC, make_code
from semcom_core.baselines.codes.wimax import LENGTHS, base_matrix, parity_check_matrix, shift_table

RATES = {"1/2": 1 / 2, "2/3A": 2 / 3, "2/3B": 2 / 3, "3/4A": 3 / 4, "3/4B": 3 / 4, "5/6": 5 / 6}


def bpsk_awgn_llr(words: np.ndarray, ebn0_db: float, rate: float, rng) -> np.ndarray:
    """LLRs ln P(0)/P(1) of BPSK (0 -> +1) over AWGN at Eb/N0 ``ebn0_db``."""
    sigma = math.sqrt(1.0 / (2.0 * rate * 10 ** (ebn0_db / 10)))
    y = 1.0 - 2.0 * words + sigma * rng.standard_normal(words.shape)
    return (2.0 * y / sigma ** 2).astype(np.float32)


def random_bits(rng, *shape) -> np.ndarray:
    return rng.integers(0, 2, shape, dtype=np.uint8)


def mcnemar_p(errors_a: np.ndarray, errors_b: np.ndarray, alternative: str = "two-sided") -> float:
    """Paired frames: under equal FER the frames only one decoder got wrong split evenly.

    ``alternative="greater"`` asks whether ``a`` fails more often than ``b``.
    """
    only_a, only_b = int((errors_a & ~errors_b).sum()), int((errors_b & ~errors_a).sum())
    return binomtest(only_a, only_a + only_b, 0.5, alternative=alternative).pvalue if only_a + only_b else 1.0


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Sionna's CPU decoders slow down many times over when their two threads share busy cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- WiMAX matrices ------------------------------------------------------------------------------

@pytest.mark.parametrize("rate,row_degrees,entries", [
    # (row, column) -> value, from IEEE Std 802.16e-2005 tables (Z0 = 96)
    ("1/2", {6, 7}, {(0, 1): 94, (0, 12): 7, (3, 0): 61, (11, 0): 43, (11, 12): 7, (9, 5): 94}),
    ("2/3A", {10}, {(0, 0): 3, (1, 4): 36, (5, 15): 45, (7, 12): 36, (7, 16): 1}),
    ("2/3B", {10, 11}, {(0, 16): 95, (1, 1): 69, (3, 9): 88, (7, 16): 95, (7, 13): 78}),
    ("3/4A", {14, 15}, {(0, 3): 93, (0, 18): 48, (3, 16): 95, (5, 18): 48, (4, 13): 90}),
    ("3/4B", {14, 15}, {(0, 15): 95, (2, 18): 80, (5, 7): 35, (5, 17): 89, (3, 12): 94}),
    ("5/6", {20}, {(0, 20): 80, (1, 16): 0, (2, 2): 83, (3, 20): 80, (3, 13): 92}),
])
def test_base_matrices_match_the_standard(rate, row_degrees, entries):
    base = base_matrix(rate)
    assert base.shape == (round(24 * (1 - RATES[rate])), 24)
    assert set((base >= 0).sum(axis=1)) == row_degrees
    for (r, c), value in entries.items():
        assert base[r, c] == value, (rate, r, c)
    assert base.min() == -1 and base.max() <= 95


def test_rate_aliases_and_shift_scaling():
    assert np.array_equal(base_matrix("2/3"), base_matrix("2/3A"))
    assert np.array_equal(base_matrix("3/4"), base_matrix("3/4a"))
    assert shift_table("1/2", 576)[0, 1] == 94 * 24 // 96                     # floor(p Z / 96)
    assert shift_table("2/3A", 576)[1, 4] == 36 % 24                          # 2/3A: p mod Z
    assert shift_table("3/4B", 1152)[5, 7] == 35 * 48 // 96
    assert np.array_equal(shift_table("5/6", 2304), base_matrix("5/6"))        # Z = 96: unscaled


@pytest.mark.parametrize("rate", list(RATES))
def test_parity_check_matrix_dimensions(rate):
    assert LENGTHS == tuple(range(576, 2305, 96))
    for n in LENGTHS:
        z = n // 24
        H = parity_check_matrix(rate, n)
        k = round(n * RATES[rate])
        assert H.shape == (n - k, n)
        assert H.nnz == (base_matrix(rate) >= 0).sum() * z                     # one 1 per row of each block
        assert set(H.sum(axis=0).A1) >= {2, 3} and H.max() == 1
    code = WimaxLDPC(rate, 960)
    assert (code.k, code.n, code.z) == (round(960 * RATES[rate]), 960, 40)
    assert (code.H != parity_check_matrix(rate, 960)).nnz == 0


@pytest.mark.parametrize("bad", [{"rate": "7/8"}, {"rate": "1/3"}, {"rate": 0.5}, {"n": 577}, {"n": 480},
                                 {"n": 2400}, {"decoder": "bp"}, {"max_iter": -1}])
def test_wimax_rejects_bad_arguments(bad):
    with pytest.raises(ValueError):
        WimaxLDPC(**bad)


# -- encoder ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", list(RATES))
@pytest.mark.parametrize("n", [576, 1344, 2304])
def test_codewords_are_systematic_and_satisfy_every_check(rate, n):
    code = WimaxLDPC(rate, n)
    info = random_bits(np.random.default_rng(n), 40, code.k)
    words = code.encode(info)
    assert words.shape == (40, n) and words.dtype == np.uint8
    assert np.array_equal(words[:, :code.k], info)
    syndrome = (code.H.astype(np.int64) @ words.T.astype(np.int64)) % 2
    assert not syndrome.any()
    assert words[:, code.k:].any()                                              # parity is not trivially zero
    assert code.syndrome_ok(words).all()
    words[3, 7] ^= 1
    assert not code.syndrome_ok(words)[3]


def test_encode_keeps_leading_axes_and_checks_input():
    code = WimaxLDPC("3/4", 576)
    info = random_bits(np.random.default_rng(0), 2, 3, code.k)
    words = code.encode(info)
    assert words.shape == (2, 3, 576)
    assert np.array_equal(words[1, 2], code.encode(info[1, 2]))
    with pytest.raises(ValueError):
        code.encode(info[..., :-1])
    with pytest.raises(ValueError):
        code.encode(np.full((1, code.k), 2))


# -- decoders --------------------------------------------------------------------------------------

@pytest.mark.parametrize("decoder", ["minsum", "spa", "sionna-bp"])
def test_noiseless_and_high_snr_decoding(decoder):
    rng = np.random.default_rng(1)
    code = WimaxLDPC("1/2", 576, decoder=decoder)
    info = random_bits(rng, 64, code.k)
    words = code.encode(info)
    clean = code.decode(np.where(words == 0, 8.0, -8.0))
    assert np.array_equal(clean.bits, info) and clean.ok.all()
    if decoder != "sionna-bp":
        assert (clean.iterations == 0).all()                                   # already a codeword
    noisy = bpsk_awgn_llr(words, 5.0, code.rate, rng)
    assert ((noisy < 0) != words).any()                                        # the channel did flip bits
    result = code.decode(noisy)
    assert np.array_equal(result.bits, info) and result.ok.all()
    assert result.iterations.max() <= code.max_iter


def test_min_sum_iterations_and_failures():
    rng = np.random.default_rng(2)
    code = WimaxLDPC("1/2", 576, max_iter=7)
    info = random_bits(rng, 200, code.k)
    words = code.encode(info)
    result = code.decode(bpsk_awgn_llr(words, 2.0, code.rate, rng))
    assert 1 <= result.iterations.min() and result.iterations.max() <= 7
    hopeless = code.decode(bpsk_awgn_llr(words, -3.0, code.rate, rng))
    assert not hopeless.ok.any() and (hopeless.iterations == 7).all()
    assert (hopeless.bits != info).any(axis=1).all()


def test_min_sum_batches_threads_and_single_words_agree():
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(7)
    code = WimaxLDPC("1/2", 576)
    words = code.encode(random_bits(rng, 70, code.k))
    llr = bpsk_awgn_llr(words, 1.75, code.rate, rng)                          # some frames fail
    whole = code.decode(llr)
    assert 0 < whole.ok.sum() < 70
    single = [code.decode(row) for row in llr[:20]]
    assert np.array_equal(np.stack([r.bits for r in single]), whole.bits[:20])
    assert [int(r.iterations) for r in single] == list(whole.iterations[:20])
    with ThreadPoolExecutor(4) as pool:                                         # as GNU Radio blocks would call it
        parts = list(pool.map(code.decode, np.array_split(llr, 4)))
    assert np.array_equal(np.concatenate([r.bits for r in parts]), whole.bits)
    assert np.array_equal(np.concatenate([r.ok for r in parts]), whole.ok)


@pytest.mark.parametrize("decoder", ["minsum", "sionna-bp"])
def test_nan_llrs_mark_only_their_codewords(decoder):
    rng = np.random.default_rng(3)
    code = WimaxLDPC("3/4", 576, decoder=decoder)
    info = random_bits(rng, 6, code.k)
    llr = bpsk_awgn_llr(code.encode(info), 6.0, code.rate, rng)
    llr[1, 10] = np.nan
    llr[4, :] = np.nan
    result = code.decode(llr)
    assert list(result.ok) == [True, False, True, True, False, True]
    keep = [0, 2, 3, 5]
    assert np.array_equal(result.bits[keep], info[keep])


def test_decode_shapes_and_wrong_length():
    code = WimaxLDPC("2/3B", 672)
    result = code.decode(np.ones((2, 3, 672)))
    assert result.bits.shape == (2, 3, code.k) and result.ok.shape == (2, 3) and result.iterations.shape == (2, 3)
    assert not result.bits.any() and result.ok.all()
    huge = code.decode(np.full((2, 672), 3e38, np.float32))                    # finite but extreme
    assert huge.ok.all() and not huge.bits.any()
    for bad in (np.ones((4, 671)), np.ones(673), np.float32(1.0)):
        with pytest.raises(ValueError):
            code.decode(bad)


def sionna_bp_frame_errors(code: WimaxLDPC, llr: np.ndarray, info: np.ndarray, checkpoints=(20, 40)) -> dict:
    """Frame errors of Sionna's flooding BP on ``code.H`` after each checkpoint's iterations, from one run."""
    import torch
    from sionna.phy.fec.ldpc import LDPCBPDecoder

    errors = {}

    def record(msg_vn, it, x_hat):                       # x_hat: Sionna's internal LLRs ln P(0)/P(1)
        if it in checkpoints:
            errors[it] = ((x_hat[:, :code.k] <= 0).numpy() != info).any(axis=1)
        return msg_vn

    decoder = LDPCBPDecoder(code.H, num_iter=max(checkpoints), v2c_callbacks=[record])
    with torch.no_grad():
        final = decoder(torch.from_numpy(-llr)).numpy()
    assert np.array_equal(errors[max(checkpoints)], (final[:, :code.k] != info).any(axis=1))
    wrapped = WimaxLDPC(code.rate_name, code.n, decoder="sionna-bp", max_iter=max(checkpoints)).decode(llr[:50])
    assert np.array_equal((wrapped.bits != info[:50]).any(axis=1), errors[max(checkpoints)][:50])
    return errors


@pytest.mark.slow
def test_min_sum_frame_error_rate_matches_sionna_bp():
    """Same LLRs to both decoders, so the frames pair up (McNemar). A layered schedule converges
    about twice as fast as flooding: 20 layered min-sum iterations must not be worse than 20 of
    Sionna's flooding BP, and must agree with 40 of them.
    """
    rng = np.random.default_rng(2024)
    fast = WimaxLDPC("1/2", 576, max_iter=20)
    frames = 500
    info = random_bits(rng, frames, fast.k)
    words = fast.encode(info)
    for ebn0 in (1.75, 2.0):
        llr = bpsk_awgn_llr(words, ebn0, fast.rate, rng)
        ours = (fast.decode(llr).bits != info).any(axis=1)
        assert 8 <= ours.sum() <= 0.3 * frames                                   # in the waterfall
        for iterations, bp in sionna_bp_frame_errors(fast, llr, info).items():
            p = mcnemar_p(ours, bp, "greater" if iterations == 20 else "two-sided")
            assert p > 1e-3, (ebn0, iterations, ours.sum(), bp.sum())


# -- 5G NR LDPC and turbo ------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: NRLDPC(k=400, n=800), lambda: NRLDPC(k=1000, n=1500, max_iter=10),
                                  lambda: TurboCode(k=200, max_iter=4)])
def test_sionna_codes_round_trip_and_flag_failures(make):
    code = make()
    rng = np.random.default_rng(4)
    info = random_bits(rng, 40, code.k)
    words = code.encode(info)
    assert words.shape == (40, code.n) and set(np.unique(words)) == {0, 1}
    good = code.decode(bpsk_awgn_llr(words, 6.0, code.rate, rng))
    assert np.array_equal(good.bits, info) and good.ok.all()
    bad = code.decode(bpsk_awgn_llr(words, -6.0, code.rate, rng))
    assert not bad.ok.any()
    assert (bad.bits != info).any(axis=1).all()
    llr = bpsk_awgn_llr(words[:3], 6.0, code.rate, rng)
    llr[1, 0] = np.nan
    assert list(code.decode(llr).ok) == [True, False, True]
    with pytest.raises(ValueError):
        code.decode(llr[:, 1:])
    with pytest.raises(ValueError):
        code.encode(info[:, 1:])


def test_turbo_length_and_crc():
    code = TurboCode(k=100)
    assert code.n == 3 * (100 + 24) + 12
    rng = np.random.default_rng(5)
    info = random_bits(rng, 4, 100)
    llr = np.where(code.encode(info) == 0, 6.0, -6.0).astype(np.float32)
    llr[2] = 2.0 * rng.standard_normal(code.n)            # pure noise: the CRC must catch it
    result = code.decode(llr)
    assert list(result.ok) == [True, True, False, True]
    with pytest.raises(ValueError):
        TurboCode(k=6144)


# -- factory ---------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:Effective coderate")
def test_make_code():
    code = make_code({"family": "wimax", "rate": "3/4", "n": 576})
    assert isinstance(code, WimaxLDPC) and (code.k, code.n, code.rate_name) == (432, 576, "3/4A")
    assert isinstance(make_code("wimax"), WimaxLDPC) and make_code("wimax").n == 2304
    nr = make_code({"family": "nr", "k": 500, "n": 1000, "max_iter": 5})
    assert isinstance(nr, NRLDPC) and (nr.k, nr.n, nr.max_iter) == (500, 1000, 5)
    assert isinstance(make_code({"family": "turbo", "k": 300}), TurboCode)
    for spec, message in [({"family": "polar"}, "unknown code family"), ("ldpc", "unknown code family"),
                          ({"rate": "1/2"}, "unknown code family"), ({"family": "nr", "k": 100}, "needs n"),
                          ({"family": "wimax", "size": 576}, "unknown argument"), (42, "dict or a family name"),
                          ({"family": "nr", "k": 1000, "n": 500}, "does not support")]:
        with pytest.raises(ValueError, match=message):
            make_code(spec)


# -- GNU Radio gr-fec and the bench ----------------------------------------------------------------

def test_alist_round_trip(tmp_path):
    from semcom_core.experiments.bench_ldpc import write_alist

    H = parity_check_matrix("2/3B", 768)
    path = tmp_path / "h.alist"
    write_alist(H, str(path))
    lines = path.read_text().splitlines()
    n, m = map(int, lines[0].split())
    assert (m, n) == H.shape
    dense = np.zeros((m, n), np.uint8)
    for j, line in enumerate(lines[4:4 + n]):
        dense[np.array(line.split(), int) - 1, j] = 1
    assert np.array_equal(dense, H.toarray())
    for i, line in enumerate(lines[4 + n:]):
        assert sorted(np.array(line.split(), int) - 1) == list(np.nonzero(dense[i])[0])


def test_gr_fec_decodes_the_same_code():
    """gr-fec on the same H and LLRs: right at high SNR, wrong with flipped signs, and as good as
    Sionna's flooding BP (same algorithm) on paired frames in the waterfall."""
    pytest.importorskip("gnuradio.fec")
    from gnuradio.semcom.bench.ldpc import GrFecLDPC

    code = WimaxLDPC("3/4", 576)
    rng = np.random.default_rng(6)
    info = random_bits(rng, 400, code.k)
    words = code.encode(info)
    decoder = GrFecLDPC(code, max_iter=20)
    assert len(set(decoder.positions)) == code.k                                # an information set
    llr = bpsk_awgn_llr(words[:100], 5.0, code.rate, rng)
    bits, seconds = decoder.decode(llr)
    assert bits.shape == (100, code.k) and seconds > 0
    assert np.array_equal(bits, words[:100, decoder.positions])
    flipped, _ = decoder.decode(-llr)                                          # the sign convention matters
    assert (flipped != words[:100, decoder.positions]).any(axis=1).all()
    llr = bpsk_awgn_llr(words, 3.0, code.rate, rng)
    ours = (decoder.decode(llr)[0] != words[:, decoder.positions]).any(axis=1)
    bp = sionna_bp_frame_errors(code, llr, info, checkpoints=(20,))[20]
    assert 8 <= bp.sum() <= 0.3 * len(bp)
    assert mcnemar_p(ours, bp) > 1e-3, (ours.sum(), bp.sum())


def test_bench_ldpc_command(capsys):
    from semcom_core.cli.main import main

    main(["bench", "ldpc", "--rate", "3/4", "--n", "576", "--batch", "60", "--snr", "6", "--iterations", "10"])
    out = capsys.readouterr().out
    assert "WiMAX rate 3/4A (k=432, n=576)" in out and "Eb/N0 6.00 dB" in out and "60 frames" in out
    rows = {line[:26].strip(): line[26:].split() for line in out.splitlines()[3:]}
    assert set(rows) == {"layered min-sum (numba)", "Sionna BP (flooding)", "GNU Radio gr-fec LDPC"}
    assert rows["Sionna BP (flooding)"][1] == "1.0x"
    for decoder in ("layered min-sum (numba)", "Sionna BP (flooding)"):
        mbit_s, _, fer, errors = rows[decoder][:4]
        assert float(mbit_s) > 0 and float(fer) == 0.0 and errors == "0"
