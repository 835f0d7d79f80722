#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Image PDUs built and read through PMT's serialised form give what the element-wise PMT calls give."""

import math

import numpy as np
import pmt
import pytest

from gnuradio.semcom.base.pdu import f32_values, f32vector, make_pdu, parse_pdu


@pytest.mark.parametrize("size", [0, 1, 3, 784, 3072])
def test_f32vector_matches_pmt_elementwise(size):
    values = np.random.default_rng(size).normal(size=size).astype(np.float32)
    built = f32vector(values)
    assert pmt.is_f32vector(built) and pmt.length(built) == size
    assert pmt.equal(built, pmt.init_f32vector(size, values.tolist()))
    reference = pmt.init_f32vector(size, values.tolist())
    assert np.array_equal(f32_values(reference), values)
    assert f32_values(reference).dtype == np.float32


def test_nan_and_inf_survive_so_receivers_can_count_them():
    values = np.array([np.nan, np.inf, -np.inf, 0.5], np.float32)
    back = f32_values(f32vector(values))
    assert math.isnan(back[0]) and back[1] == np.inf and back[2] == -np.inf and back[3] == 0.5


def test_pdu_round_trip_keeps_metadata_types():
    meta = {"index": 7, "label": np.int64(3), "snr_db": 10.5, "lost": False, "method": "deepjscc",
            "shape": [1, 28, 28]}
    pdu = make_pdu(meta, np.arange(784, dtype=np.float32))
    back, data = parse_pdu(pdu)
    assert back["index"] == 7 and isinstance(back["index"], int) and back["label"] == 3
    assert back["snr_db"] == 10.5 and back["lost"] is False and back["method"] == "deepjscc"
    assert list(back["shape"]) == [1, 28, 28]
    assert back == {**pmt.to_python(pmt.car(pdu))}          # what pmt's own conversion gives
    assert np.array_equal(data, np.arange(784, dtype=np.float32))
