"""Inference in bfloat16 (the blocks' "auto" precision where the CPU has bf16 natively) keeps every shipped
bundle's reconstructions within 0.05 dB PSNR of float32 and its decisions, on the same received symbols."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from semcom_core.bundles import load_bundle
from semcom_core.bundles.precision import inference_autocast, resolve_precision
from semcom_core.channels import make_channel
from semcom_core.data import load_dataset
from semcom_core.metrics import psnr
from semcom_core.units import noise_var_from_snr_db

REPO = Path(__file__).resolve().parents[2]
# the image bundles (the multi-modal one's device frames: tests/core/test_multidevice.py)
SHIPPED = sorted(p for p in (REPO / "bundles").iterdir()
                 if (p / "card.json").is_file() and json.loads((p / "card.json").read_text())["family"] == "image")


@pytest.fixture(scope="module")
def test_set():
    return load_dataset("fashion-mnist", "test").batch(range(500))


def _received(bundle, images, snr_db=10.0, precision="fp32"):
    """The bundle's frames for ``images`` through AWGN at ``snr_db`` (seeded: the same noise every call)."""
    frames = bundle.transmit(images, noise_var=noise_var_from_snr_db(snr_db), precision=precision)
    channel = make_channel("awgn", generator=torch.Generator().manual_seed(1))
    return [(channel(torch.as_tensor(p)[None], snr_db)[0].numpy().astype(np.complex64), side) for p, side in frames]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_bf16_keeps_psnr_within_0_05_db_and_the_decisions(path, test_set):
    bundle = load_bundle(path)
    images, _labels = test_set
    received = _received(bundle, images)
    x32, pred32 = bundle.receive(received, precision="fp32")
    x16, pred16 = bundle.receive(received, precision="bf16")
    assert x16.dtype == np.float32                                  # outputs stay float32
    p32 = float(psnr(torch.from_numpy(x32), images).mean())
    p16 = float(psnr(torch.from_numpy(x16), images).mean())
    assert abs(p16 - p32) <= 0.05, f"{path.name}: {p16:.3f} dB in bf16, {p32:.3f} dB in fp32"
    assert (pred16 == pred32).mean() >= 0.98, f"{path.name}: decisions differ on {(pred16 != pred32).mean():.1%}"
    # the transmitter too: bf16 symbols decode (in fp32) as well as fp32 ones
    x_tx16, _ = bundle.receive(_received(bundle, images, precision="bf16"), precision="fp32")
    assert abs(float(psnr(torch.from_numpy(x_tx16), images).mean()) - p32) <= 0.05


def test_bf16_really_runs_the_networks_in_bf16(test_set):
    bundle = load_bundle(SHIPPED[0])
    with inference_autocast("bf16"):
        z = bundle.transceiver.encoder(test_set[0][:4])
    assert z.dtype == torch.bfloat16                                 # autocast is on ...
    assert bundle.encode(test_set[0][:4], "bf16").dtype == torch.float32   # ... and the link gets float32
    with inference_autocast("fp32"):
        assert bundle.transceiver.encoder(test_set[0][:4]).dtype == torch.float32


def test_precision_names():
    assert resolve_precision("fp32") == "fp32" and resolve_precision("BF16") == "bf16"
    assert resolve_precision("auto") in ("fp32", "bf16")
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16"):
        resolve_precision("fp16")
