#!/usr/bin/env python3
#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA for semcom.tdl_channel: same output as the library, NaN counted, tags through, argument errors."""

import os
import sys

import numpy as np
import pytest
from gnuradio import blocks, gr

try:
    from gnuradio import semcom
    from gnuradio.semcom import testing
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import semcom
    from semcom import testing

from semcom_core.channels import TDLSampleChannel

ARGS = dict(model="C", delay_spread_ns=300.0, sample_rate=10e6, carrier_freq=3.5e9, speed=20.0, block_len=1000, seed=3)


def _noise(n, seed=0):
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)).astype(np.complex64)


def _reference(x, model, delay_spread_ns, sample_rate, carrier_freq, speed, block_len, seed):
    ch = TDLSampleChannel(model, delay_spread_ns * 1e-9, sample_rate, carrier_freq, speed, block_len, seed)
    return ch.apply(x)


def _run(blk, x, tags=(), timeout=30.0):
    tb = gr.top_block()
    src = blocks.vector_source_c(x.tolist(), False, 1, list(tags))
    sink = blocks.vector_sink_c()
    tb.connect(src, blk, sink)
    ok = testing.run_bounded(tb, lambda: len(sink.data()) >= x.size, timeout)
    assert ok, f"tdl_channel passed {len(sink.data())} of {x.size} samples"
    return np.asarray(sink.data(), dtype=np.complex64), sink


def test_flowgraph_output_equals_library():
    x = _noise(60_000)
    blk = semcom.tdl_channel(**ARGS)
    y, _ = _run(blk, x)
    # the stream reaches work() in chunks of the scheduler's choosing: still bit-identical
    assert np.array_equal(y, _reference(x, **ARGS))
    assert blk.bad_samples() == 0 and blk.failures() == 0
    assert abs(np.mean(np.abs(y) ** 2) - 1) < 0.5   # faded, but roughly unit power


def test_non_finite_input_is_zeroed_and_counted():
    x = _noise(20_000, seed=1)
    bad = [10, 11, 4_000, 19_999]
    x_bad = x.copy()
    x_bad[bad] = [np.nan, complex(np.inf, 0), complex(0, -np.inf), complex(np.nan, 1)]
    args = dict(ARGS, speed=0.0, block_len=0)
    blk = semcom.tdl_channel(**args)
    y, _ = _run(blk, x_bad)
    assert np.isfinite(y).all()
    cleaned = x.copy()
    cleaned[bad] = 0
    assert np.array_equal(y, _reference(cleaned, **args))
    assert blk.bad_samples() == len(bad)


def test_implausible_samples_are_zeroed_and_counted():
    """A sample of 3.4e38 (finite, but 40 dB and more above the unit power a radio sends) would spread
    over its neighbours through the taps: it is zeroed before the channel, like NaN, and counted."""
    x = _noise(20_000, seed=3)
    x_bad = x.copy()
    x_bad[[50, 7_000]] = [3.4e38, complex(0, -1e5)]
    args = dict(ARGS, speed=0.0, block_len=0)
    blk = semcom.tdl_channel(**args)
    y, _ = _run(blk, x_bad)
    cleaned = x.copy()
    cleaned[[50, 7_000]] = 0
    assert np.array_equal(y, _reference(cleaned, **args))
    assert blk.drop_reasons() == {"implausible input samples": 2}


def test_tags_pass_through():
    x = _noise(5_000, seed=2)
    tags = [testing.make_tag(o, "packet_len", 96) for o in (0, 700, 2_345)] + [testing.make_tag(4_999, "label", 7)]
    y, sink = _run(semcom.tdl_channel(**ARGS), x, tags)
    assert y.size == x.size
    got = testing.tags_by_key(sink)
    assert got["packet_len"] == [(0, 96), (700, 96), (2_345, 96)]
    assert got["label"] == [(4_999, 7)]


@pytest.mark.parametrize("kwargs", [{"model": "F"}, {"delay_spread_ns": -5.0}, {"sample_rate": 0.0},
                                    {"block_len": -1}, {"speed": 3.0, "block_len": 0}, {"delay_spread_ns": "x"}])
def test_bad_arguments_raise_in_constructor(kwargs):
    with pytest.raises(ValueError):
        semcom.tdl_channel(**kwargs)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
