"""Every transmitted symbol sequence has unit average power: analog and quantised, in training mode (the
batch's own power) and as deployed (the power measured into the bundle's card)."""

import json
from pathlib import Path

import pytest
import torch

from semcom_core.bundles import load_bundle
from semcom_core.bundles.calibrate import calibrate_bundle
from semcom_core.data import load_dataset
from semcom_core.symbols import SymbolCodec
from semcom_core.symbols.codec import prefix_mask
from semcom_core.units import noise_var_from_snr_db

REPO = Path(__file__).resolve().parents[2]
# the image bundles (the multi-modal one's device frames: tests/core/test_multidevice.py)
SHIPPED = sorted(p for p in (REPO / "bundles").iterdir()
                 if (p / "card.json").is_file() and json.loads((p / "card.json").read_text())["family"] == "image")


def mean_power(frames) -> float:
    """Mean |s|^2 over every symbol sent in a list of (payload, side) frames."""
    payload = torch.cat([torch.as_tensor(p) for p, _side in frames])
    return float((payload.abs() ** 2).mean())


@pytest.fixture(scope="module")
def test_images():
    return load_dataset("fashion-mnist", "test").batch(range(1000))[0]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_bundle_sends_unit_power(path, test_images):
    bundle = load_bundle(path)
    assert "symbol_power" in bundle.card, "the card must carry the measured power of quantised symbols"
    for quant_bits in sorted({-1, 0, 4, 8}):          # its own symbols, analog, 4 and 8 bits
        power = mean_power(bundle.transmit(test_images, quant_bits=quant_bits))
        assert power == pytest.approx(1.0, abs=0.05), f"{path.name}, quant_bits={quant_bits}: power {power:.3f}"
    if bundle.adaptive:     # an A-MIJSCC frame sends a prefix, shorter on a better channel: still unit power
        for snr_db in (0.0, 12.0, 21.0, 30.0):
            frames = bundle.transmit(test_images, noise_var=noise_var_from_snr_db(snr_db))
            assert mean_power(frames) == pytest.approx(1.0, abs=0.05), f"{path.name} at {snr_db} dB"


@pytest.mark.parametrize("q", [2, 4, 8])
def test_quantised_codec_trains_and_deploys_at_unit_power(q):
    torch.manual_seed(0)
    z = torch.randn(128, 64) * 3 + 1               # bell-shaped latents use the inner points most
    raw = SymbolCodec(q, power=1.0).eval().to_symbols(z)[0]
    assert float((raw.abs() ** 2).mean()) < 0.8    # what the constellation alone would send

    codec = SymbolCodec(q)
    s, side = codec.to_symbols(z)                  # training mode: the batch's own power
    assert float((s.abs() ** 2).mean()) == pytest.approx(1.0, abs=1e-4)
    assert torch.allclose(codec.from_symbols(s, side), SymbolCodec(q, power=1.0).eval().from_symbols(raw, side))
    for _ in range(200):                           # the running mean converges to it
        codec.to_symbols(z)
    codec.eval()
    s, side = codec.to_symbols(torch.randn(128, 64) * 3 + 1)
    assert float((s.abs() ** 2).mean()) == pytest.approx(1.0, abs=0.05)
    # the running profile: each position's raw power, whose mean is the raw frame power
    assert codec.power.shape == (32,)
    assert float(codec.power.mean()) == pytest.approx(float((raw.abs() ** 2).mean()), rel=1e-3)


def test_only_the_symbols_sent_count_towards_the_power():
    torch.manual_seed(1)
    z = torch.randn(64, 40) * torch.linspace(3, 0.5, 40)    # the leading values vary more
    active = prefix_mask(torch.randint(5, 21, (64,)), 20)
    codec = SymbolCodec(6)
    s, side = codec.to_symbols(z, active)
    assert float((s[active].abs() ** 2).mean()) == pytest.approx(1.0, abs=0.03)
    assert float(s[~active].abs().max()) == 0.0
    # short and long prefixes alike: each frame is scaled by its own positions' profile
    short, long = side.end < 10, side.end >= 15
    for rows in (short, long):
        assert float((s[rows][active[rows]].abs() ** 2).mean()) == pytest.approx(1.0, abs=0.1)
    # the receiver, knowing only the ends, undoes exactly what the transmitter did
    exact = SymbolCodec(6, power=1.0).eval().from_symbols(SymbolCodec(6, power=1.0).eval().to_symbols(z, active)[0], side)
    assert torch.allclose(codec.from_symbols(s, side), exact, atol=1e-5)


def test_a_profile_of_the_wrong_length_is_refused():
    codec = SymbolCodec(4, power=[0.5, 0.6, 0.7]).eval()
    with pytest.raises(ValueError, match="3 positions, the frames have 8"):
        codec.to_symbols(torch.randn(2, 16))
    with pytest.raises(ValueError, match="finite and > 0"):
        SymbolCodec(4, power=[0.5, float("nan")])


def test_calibration_is_recorded_and_measured_again(tmp_path, shipped_bundle_path):
    import shutil

    path = tmp_path / "b"
    shutil.copytree(shipped_bundle_path, path)
    powers = calibrate_bundle(path)
    assert set(powers) == {str(q) for q in range(1, 9)}
    k = load_bundle(path).k
    assert all(len(p) == k and all(v > 0 for v in p) for p in powers.values())   # one value per symbol
    assert all(0 < sum(p) / k <= 1.0 + 1e-6 for p in powers.values())
    card = load_bundle(path).card                  # still loads: the card was signed again
    assert card["symbol_power"] == powers
    assert card["command"].endswith(f"semcom bundle calibrate {path}")


def test_an_uncalibrated_bundle_warns(tmp_path, shipped_bundle_path):
    import json
    import shutil

    from semcom_core.bundles.format import sign_bundle

    path = tmp_path / "old"
    shutil.copytree(shipped_bundle_path, path)
    card = json.loads((path / "card.json").read_text())
    card.pop("symbol_power")
    (path / "card.json").write_text(json.dumps(card))
    sign_bundle(path)
    with pytest.warns(UserWarning, match="semcom bundle calibrate"):
        load_bundle(path).link(4)
