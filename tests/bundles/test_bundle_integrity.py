"""Bundles you can trust: every file checked against the SHA-256 its card records, every weight finite,
and `semcom bundle sign` for an edit made on purpose."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from semcom_core.bundles import BundleError, load_bundle, make_untrained_bundle
from semcom_core.bundles.format import WEIGHTS, sign_bundle


def _flip_one_bit(path, position_from_end=3):
    """Flip the lowest bit of a byte in the tensor data (the end of a safetensors file is tensor data)."""
    data = bytearray(path.read_bytes())
    data[-position_from_end] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_written_bundle_records_the_digest_of_its_weights(tmp_path):
    path = make_untrained_bundle(tmp_path / "b", width=8)
    card = json.loads((path / "card.json").read_text())
    assert set(card["sha256"]) == {WEIGHTS} and len(card["sha256"][WEIGHTS]) == 64
    load_bundle(path)


def test_one_flipped_bit_fails_to_load_naming_the_file_and_sign_accepts_it(tmp_path):
    path = make_untrained_bundle(tmp_path / "b", width=8)
    before = load_bundle(path).transceiver.state_dict()
    _flip_one_bit(path / WEIGHTS)
    with pytest.raises(BundleError, match=f"{WEIGHTS} does not match the SHA-256 in its card.json.*bundle sign"):
        load_bundle(path)
    sign_bundle(path)                          # the edit was on purpose: record it
    after = load_bundle(path).transceiver.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(changed) == 1, "exactly the tensor holding the flipped bit differs"


def test_a_nan_weight_fails_to_load_naming_the_file_and_the_tensor_even_when_signed(tmp_path):
    path = make_untrained_bundle(tmp_path / "b", width=8)
    tensors = load_file(str(path / WEIGHTS))
    key = sorted(k for k, t in tensors.items() if t.is_floating_point())[0]
    tensors[key].view(-1)[0] = float("nan")
    save_file(tensors, str(path / WEIGHTS), metadata={"format": "semcom-bundle/2"})
    with pytest.raises(BundleError, match="SHA-256"):
        load_bundle(path)
    with pytest.raises(BundleError, match=f"{WEIGHTS} tensor {key} holds 1 NaN"):
        sign_bundle(path)                      # signing never blesses non-finite weights
    card = json.loads((path / "card.json").read_text())
    card["sha256"][WEIGHTS] = __import__("hashlib").sha256((path / WEIGHTS).read_bytes()).hexdigest()
    (path / "card.json").write_text(json.dumps(card))
    with pytest.raises(BundleError, match=f"{WEIGHTS} tensor {key} holds 1 NaN"):
        load_bundle(path)


def test_a_card_without_digests_is_refused_with_the_command_that_signs_it(tmp_path):
    path = make_untrained_bundle(tmp_path / "b", width=8)
    card = json.loads((path / "card.json").read_text())
    del card["sha256"]
    (path / "card.json").write_text(json.dumps(card))
    with pytest.raises(BundleError, match="records no SHA-256.*semcom bundle sign"):
        load_bundle(path)
    result = subprocess.run([sys.executable, "-m", "semcom_core.cli.main", "bundle", "sign", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    load_bundle(path)


def test_eval_of_a_damaged_bundle_exits_non_zero_with_one_line_naming_the_file(tmp_path):
    path = make_untrained_bundle(tmp_path / "b", width=8)
    _flip_one_bit(path / WEIGHTS)
    result = subprocess.run([sys.executable, "-m", "semcom_core.cli.main", "eval", "--bundle", str(path),
                             "--snr", "10", "--samples", "8"], capture_output=True, text=True)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert WEIGHTS in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
