"""MFMSC instance by instance (semcom_core.link.multitask): packing, frames, masks and task numbers."""

from pathlib import Path

import numpy as np
import pytest
import torch

from semcom_core.bundles.mfmsc import load_mfmsc_bundle
from semcom_core.data.mfmsc.tasks import build_tasks
from semcom_core.link.multitask import (TaskLink, instance_size, labels_to_mask, mask_to_labels, pack_instance,
                                        unpack_instances)

BUNDLE = Path(__file__).resolve().parents[2] / "bundles" / "mfmsc-embedded"
N = 16


@pytest.fixture(scope="module")
def shipped():
    system, card, tokenizer = load_mfmsc_bundle(BUNDLE)
    _, test, _ = build_tasks(card["config"], splits=("test",), tokenizer=tokenizer)
    link = TaskLink(system, tokenizer, card["geometry"], base_id=65533)      # the task numbers wrap past 65535
    return link, card["geometry"], {k: v.head(N) for k, v in test.items()}


def test_packed_instances_come_back_as_the_same_model_inputs(shipped):
    _, geometry, test = shipped
    for data in test.values():
        packed = [pack_instance(data.tensors, i, data.spec.modalities) for i in range(N)]
        assert all(v.size == instance_size(data.spec.modalities, geometry) for v, _ in packed)
        batch = unpack_instances([v for v, _ in packed], [m for _, m in packed], data.spec.modalities, geometry)
        for key in [*data.spec.modalities, *(["speech_len"] if "speech" in data.spec.modalities else [])]:
            assert torch.equal(batch[key], data.tensors[key]), (data.spec.name, key)


def test_instances_that_are_not_inputs_are_refused(shipped):
    _, geometry, test = shipped
    text = test["text_cls"]
    values, meta = pack_instance(text.tensors, 0, ("text",))
    with pytest.raises(ValueError, match="take 32"):
        unpack_instances([values[:-1]], [meta], ("text",), geometry)
    for bad in (0.5, -1.0, float(geometry["vocab_size"])):
        spoiled = values.copy()
        spoiled[3] = bad
        with pytest.raises(ValueError, match="token ids"):
            unpack_instances([spoiled], [meta], ("text",), geometry)
    speech = test["speech_asr"]
    values, meta = pack_instance(speech.tensors, 0, ("speech",))
    for length in (0, geometry["speech_frames"] + 1):
        with pytest.raises(ValueError, match="speech_len"):
            unpack_instances([values], [{"speech_len": length}], ("speech",), geometry)


def test_frames_carry_the_valid_tokens_only_at_unit_power_and_their_mask_is_a_prefix(shipped):
    link, geometry, test = shipped
    for name, data in test.items():
        batch = unpack_instances(*zip(*[pack_instance(data.tensors, i, data.spec.modalities) for i in range(N)]),
                                 data.spec.modalities, geometry)
        frames = link.transmit(name, batch)
        for f in frames:
            assert f.symbols.size == int(f.mask.sum()) * link.per_token
            assert np.mean(np.abs(f.symbols) ** 2) == pytest.approx(1.0, rel=1e-4)
            assert link.is_prefix(f.mask) and len(f.mask) == link.token_count(name)
            np.testing.assert_array_equal(link.prefix_mask(name, f.symbols.size), f.mask)
        assert link.task_of_air_id(link.air_id(name)) == name and 1 <= link.air_id(name) <= 65535
    with pytest.raises(ValueError, match="tokens"):
        link.prefix_mask("text_cls", link.per_token * (link.token_count("text_cls") + 1))
    with pytest.raises(ValueError, match="tokens"):
        link.prefix_mask("text_cls", link.per_token + 1)
    assert [link.air_id(t) for t in link.system.tasks] == [65533, 65534, 65535, 1, 2, 3, 4, 5]
    assert link.task_of_air_id(0) is None and link.task_of_air_id(6) is None and link.task_of_air_id(65532) is None
    assert not TaskLink.is_prefix(np.array([1, 0, 1], bool))


def test_label_bit_masks_round_trip():
    row = np.array([1, 0, 0, 1, 1, 0, 0, 1], bool)
    assert labels_to_mask(row) == 0b10011001
    np.testing.assert_array_equal(mask_to_labels(labels_to_mask(row), 8), row)
