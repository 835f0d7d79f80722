"""Property-based fuzzing (Hypothesis) of the parsers a hostile or careless input reaches first: the burst
header and side words, the symbol-level frame header, and the config loader. Each answers with a result or
its own error type, never another exception. ``HYPOTHESIS_PROFILE=long`` runs many more examples."""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semcom_core.link.air.header import HEADER_CODED_BITS, BurstHeader, decode_header, decode_side_words
from semcom_core.runs.config import load_config
from semcom_core.runs.layering import ConfigError
from semcom_core.symbols import FrameError, parse_frames

settings.register_profile("ci", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_floats = st.floats(allow_nan=True, allow_infinity=True, width=32)


#: float32 arrays drawn as raw bytes: every bit pattern, NaN, inf and subnormals included (and fast to draw)
def _float32s(size):
    return st.binary(min_size=4 * size, max_size=4 * size).map(lambda b: np.frombuffer(b, np.float32).copy())


@given(_float32s(HEADER_CODED_BITS))
def test_the_burst_header_decoder_answers_a_header_or_a_reason(llrs):
    header, coded = decode_header(llrs)
    assert isinstance(header, (BurstHeader, str))
    if isinstance(header, str):
        assert coded is None


@given(st.integers(1, 40), st.data())
def test_side_words_answer_a_range_or_none_per_image(count, data):
    llrs = data.draw(st.lists(_floats, min_size=0, max_size=3000))
    ranges = decode_side_words(np.asarray(llrs, np.float32), count)
    assert len(ranges) == count
    for r in ranges:
        assert r is None or (len(r) == 2 and all(np.isfinite(r)))


@given(st.lists(st.lists(st.builds(complex, _floats, _floats),
                         max_size=120), min_size=1, max_size=4))
def test_symbol_frame_parser_answers_a_frame_or_a_frame_error(frames):
    results = parse_frames([np.asarray(f, np.complex64) for f in frames])
    assert len(results) == len(frames)
    for result in results:
        assert isinstance(result, FrameError) or len(result) == 2


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), _floats, st.text(max_size=8))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                           st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                       max_leaves=8)
_KEYS = ["method", "ratio", "seed", "trainer", "loss", "channel", "dataset", "eval", "quant_bits", "train_snr_db"]


@given(st.dictionaries(st.sampled_from(_KEYS + ["bogus"]), _values, max_size=5), st.sampled_from(
    ["image", "multimodal", "mfmsc"]))
def test_the_config_loader_answers_a_config_or_a_config_error(layer, family):
    try:
        cfg = load_config(None, layer, family=family)
    except ConfigError as err:
        assert "\n" not in str(err)
    else:
        assert isinstance(cfg, dict)
