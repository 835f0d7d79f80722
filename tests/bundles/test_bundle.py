"""Bundle export/load: exact round trip and clear errors for corrupt or mismatched bundles."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from semcom_core.bundles import BundleError, load_bundle, make_untrained_bundle, save_bundle
from semcom_core.bundles.format import sign_bundle
from semcom_core.methods.deepjscc import transceiver_specs
from semcom_core.link import Transceiver


def test_save_load_is_exact(tmp_path):
    path = make_untrained_bundle(tmp_path / "b", width=8, seed=3)
    bundle = load_bundle(path)
    x = torch.rand(5, 1, 28, 28)
    z = bundle.encode(x)
    assert z.shape == (5, 2 * bundle.k)
    # re-save what was loaded and load again: identical tensors and outputs
    save_bundle(tmp_path / "c", bundle.transceiver, {"method": "deepjscc", "dataset": bundle.card["dataset"]},
                bundle.classifier, bundle.card["architecture"]["classifier"])
    again = load_bundle(tmp_path / "c")
    for a, b in zip(bundle.transceiver.state_dict().values(), again.transceiver.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(again.encode(x), z)
    assert torch.equal(again.decode(z), bundle.decode(z))
    assert torch.equal(again.classify(x), bundle.classify(x))
    card = json.loads((path / "card.json").read_text())
    assert card["k"] == 65 and card["n"] == 784 and card["image_shape"] == [1, 28, 28]


def test_missing_and_corrupt_bundles(tmp_path):
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "nope")
    path = make_untrained_bundle(tmp_path / "b", width=8)
    broken = tmp_path / "broken"
    shutil.copytree(path, broken)
    weights = (broken / "weights.safetensors").read_bytes()
    (broken / "weights.safetensors").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(BundleError, match="weights.safetensors does not match the SHA-256"):
        load_bundle(broken)
    (broken / "weights.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(BundleError, match="weights.safetensors does not match the SHA-256"):
        load_bundle(broken)
    with pytest.raises(BundleError, match="corrupt"):        # signing does not bless a file that cannot load
        sign_bundle(broken)
    (broken / "card.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(broken)
    (broken / "card.json").unlink()
    with pytest.raises(BundleError, match="no card.json"):
        load_bundle(broken)


def test_mismatched_card_and_weights(tmp_path):
    path = make_untrained_bundle(tmp_path / "b", width=8)
    card = json.loads((path / "card.json").read_text())
    card["architecture"]["encoder"]["width"] = 16  # weights were saved for width 8
    (path / "card.json").write_text(json.dumps(card))
    with pytest.raises(BundleError, match="do not match"):
        load_bundle(path)
    card["architecture"]["encoder"]["width"] = 8
    card["k"] = 70
    (path / "card.json").write_text(json.dumps(card))
    with pytest.raises(BundleError, match="contradict"):
        load_bundle(path)
    card["k"] = 65
    card["format"] = "semcom-bundle/99"
    (path / "card.json").write_text(json.dumps(card))
    with pytest.raises(BundleError, match="format"):
        load_bundle(path)


def test_wrong_image_size_is_rejected(tmp_path):
    bundle = load_bundle(make_untrained_bundle(tmp_path / "b", width=8))
    with pytest.raises(ValueError, match=r"expects images \[B,1,28,28\]"):
        bundle.encode(torch.rand(2, 3, 32, 32))


def test_quantised_bundle_keeps_q(tmp_path):
    enc, dec, k = transceiver_specs((1, 28, 28), 1 / 12, 8)
    save_bundle(tmp_path / "q", Transceiver(enc, dec, k, q=4), {"method": "deepjscc", "dataset": {"name": "fashion-mnist"}})
    bundle = load_bundle(tmp_path / "q")
    assert bundle.q == 4 and bundle.codec.q == 4 and bundle.classifier is None
    with pytest.raises(BundleError, match="no classifier"):
        bundle.classify(torch.rand(1, 1, 28, 28))
