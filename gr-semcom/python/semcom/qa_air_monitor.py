#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""air_monitor passes samples unchanged, measures the bursts' power without the gaps, and reports."""

import sys

import numpy as np
import pytest
from gnuradio import blocks, gr

from gnuradio import semcom


def test_passes_samples_and_measures_burst_power(capfd):
    rng = np.random.default_rng(0)
    burst = (rng.normal(size=1000) + 1j * rng.normal(size=1000)).astype(np.complex64) * np.sqrt(0.5 * 0.25)
    stream = np.concatenate([np.zeros(500, np.complex64), burst, np.zeros(700, np.complex64), burst,
                             np.array([np.nan], np.complex64)])
    tb = gr.top_block()
    src, mon, dst = blocks.vector_source_c(stream.tolist()), semcom.air_monitor("air", 0.0), blocks.vector_sink_c()
    tb.connect(src, mon, dst)
    tb.run()
    out = np.asarray(dst.data(), np.complex64)
    assert np.array_equal(out[:-1], stream[:-1]) and np.isnan(out[-1])        # unchanged, NaN included
    assert mon.samples() == stream.size and mon.burst_samples() == 2000 and mon.non_finite() == 1
    assert mon.mean_power() == pytest.approx(0.25, rel=0.1)                   # the bursts', not the gaps'
    err = capfd.readouterr().err
    assert f"semcom air: {stream.size} samples in all, 2000 in bursts, burst power -6.0 dB, 1 non-finite" in err


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
