"""The QAM bit labelling, stated and checked: 3GPP TS 38.211 section 5.1 (what Sionna implements), Gray on
each axis, unit average power."""

import itertools

import numpy as np
import pytest

from semcom_core.baselines.modulation import QAM


def ts38211_axis(bits: np.ndarray) -> np.ndarray:
    """One axis of TS 38.211's square QAM from its bits (b0 the sign, then b2, b4, ... of the I axis):
    (1 - 2 b0)(2^(m-1) - (1 - 2 b2)(2^(m-2) - ...))."""
    m = bits.shape[1]
    # built from the innermost bit out: 2 - s_{m-1}, then 2^2 - s_{m-2} (...), ...
    value = np.ones(len(bits))
    for j, i in enumerate(range(m - 1, 0, -1)):
        value = 2 ** (j + 1) - (1 - 2 * bits[:, i]) * value
    return (1 - 2 * bits[:, 0]) * value


@pytest.mark.parametrize("order", [4, 16, 64, 256])
def test_labelling_is_ts_38211(order):
    bits_per_symbol = int(np.log2(order))
    labels = np.array(list(itertools.product([0, 1], repeat=bits_per_symbol)), dtype=np.uint8)
    symbols = QAM(order).modulate(labels.reshape(1, -1)).numpy()[0]
    even, odd = labels[:, 0::2].astype(float), labels[:, 1::2].astype(float)   # I bits b0 b2 ..., Q bits b1 b3 ...
    expected = ts38211_axis(even) + 1j * ts38211_axis(odd)
    expected /= np.sqrt(np.mean(np.abs(expected) ** 2))
    np.testing.assert_allclose(symbols, expected, atol=1e-6)
    assert np.mean(np.abs(symbols) ** 2) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("order", [16, 64, 256])
def test_neighbours_differ_in_one_bit(order):
    bits_per_symbol = int(np.log2(order))
    labels = np.array(list(itertools.product([0, 1], repeat=bits_per_symbol)), dtype=np.uint8)
    symbols = QAM(order).modulate(labels.reshape(1, -1)).numpy()[0]
    spacing = np.min(np.abs(symbols[:, None] - symbols[None, :])[~np.eye(order, dtype=bool)])
    for a, b in itertools.combinations(range(order), 2):
        if abs(symbols[a] - symbols[b]) < spacing * 1.01:                 # horizontal or vertical neighbours
            assert int(np.sum(labels[a] != labels[b])) == 1, (labels[a], labels[b])
