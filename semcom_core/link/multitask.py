"""MFMSC instance by instance: what a transmitter and a receiver of one task instance exchange.

The library evaluates MFMSC batch by batch on tensors (:func:`semcom_core.runs.mfmsc.evaluate_task`); a
link sends one instance at a time. This module is the bridge:

- an **instance** travels from a source to the transmitter as one float32 vector: the task's modality
  inputs flattened one after the other in the task's modality order (:func:`pack_instance`,
  :func:`unpack_instances`); text token ids are exact in float32; speech carries its frame count;
- a **frame** is the instance's channel symbols of its valid tokens only (unit average power) and the
  token mask the receiver needs to put them back (:class:`TaskLink`);
- the receiver turns the task head's output into the task's **prediction**: a class id, a label bit
  mask, a text, a transcript or an image (:meth:`TaskLink.predictions`), which is what the task's metric
  scores (:class:`semcom_core.metrics.tasks.TaskScore.add_predictions`).

Over a physical layer whose frame header has room for a number and a length only (the OFDM burst header:
``bundle_id`` and ``length``), a frame says its task by :meth:`TaskLink.air_id` (the bundle's 16-bit id
plus the task's position, so that the receivers of other bundles drop it) and its mask by its length: valid tokens come first (the task token, then a modality's tokens with its
padding last), so the mask is the prefix of :meth:`TaskLink.token_count` tokens that the frame fills
(:meth:`TaskLink.prefix_mask`). A system whose masks are not prefixes (MMSC's concatenated multi-modal
tokens) cannot use such a header: its transmitter says so per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.mfmsc.speech import CharVocab
from ..symbols import SideInfo

_AIR_IDS = 65535     # header numbers 1 .. 65535 (0: unspecified)

__all__ = ["Frame", "TaskLink", "input_shapes", "pack_instance", "reference_of", "unpack_instances",
           "labels_to_mask", "mask_to_labels"]


def input_shapes(geometry: dict) -> dict[str, tuple[int, ...]]:
    """The shape of one instance's input per modality, from a bundle's geometry."""
    size = int(geometry.get("image_size", 28))
    return {"image": (1, size, size), "text": (int(geometry["text_max_len"]),),
            "speech": (int(geometry["speech_frames"]), int(geometry["speech_bins"])),
            "video": (int(geometry["video_frames"]), 1, int(geometry["video_size"]), int(geometry["video_size"]))}


def instance_size(modalities, geometry: dict) -> int:
    shapes = input_shapes(geometry)
    return int(sum(np.prod(shapes[m]) for m in modalities))


def pack_instance(tensors: dict, i: int, modalities) -> tuple[np.ndarray, dict]:
    """Instance ``i`` of a task's tensors as (float32 vector, metadata): the inputs of ``modalities`` one
    after the other; ``speech_len`` in the metadata for speech."""
    parts = [tensors[m][i].detach().cpu().numpy().astype(np.float32).reshape(-1) for m in modalities]
    meta = {"speech_len": int(tensors["speech_len"][i])} if "speech" in modalities else {}
    return np.concatenate(parts), meta


def unpack_instances(values: list, metas: list, modalities, geometry: dict) -> dict:
    """Packed instances (:func:`pack_instance`) of one task back into a batch of model inputs.

    Raises ValueError for a vector of the wrong size, token ids that are not ids of the vocabulary, or a
    speech length outside the frames."""
    shapes = input_shapes(geometry)
    need = instance_size(modalities, geometry)
    batch: dict = {}
    rows = []
    for v in values:
        v = np.asarray(v, dtype=np.float32).reshape(-1)
        if v.size != need:
            raise ValueError(f"instance of {v.size} values, the task's inputs ({', '.join(modalities)}) take {need}")
        rows.append(v)
    stacked = np.stack(rows)
    offset = 0
    for m in modalities:
        size = int(np.prod(shapes[m]))
        part = stacked[:, offset: offset + size].reshape((len(rows),) + shapes[m])
        offset += size
        if m == "text":
            ids = np.rint(part)
            if not (np.abs(part - ids) < 1e-3).all() or ids.min() < 0 or ids.max() >= int(geometry["vocab_size"]):
                raise ValueError("text values are not token ids of the vocabulary")
            batch["text"] = torch.as_tensor(ids, dtype=torch.long)
        else:
            batch[m] = torch.as_tensor(np.ascontiguousarray(part))
    if "speech" in modalities:
        lengths = [int(meta.get("speech_len", -1)) for meta in metas]
        if min(lengths) < 1 or max(lengths) > shapes["speech"][0]:
            raise ValueError(f"speech_len must lie in 1..{shapes['speech'][0]}, got {lengths}")
        batch["speech_len"] = torch.as_tensor(lengths, dtype=torch.long)
    return batch


def labels_to_mask(row) -> int:
    """A multi-hot row of labels as an integer bit mask (bit j: label j)."""
    return int(sum(1 << j for j, on in enumerate(np.asarray(row).reshape(-1)) if on))


def mask_to_labels(mask: int, count: int) -> np.ndarray:
    return np.array([(int(mask) >> j) & 1 for j in range(count)], dtype=bool)


def reference_of(data, i: int, decode_text) -> object:
    """What instance ``i``'s prediction is scored against, as the library scores it: a class id, a label
    bit mask, the sent text, the transcript; None for image reconstruction (the image itself)."""
    kind, target = data.spec.kind, data.tensors["target"]
    if kind == "classify":
        return int(target[i])
    if kind == "multilabel":
        return labels_to_mask(target[i].numpy())
    if kind == "text_recon":
        return decode_text(data.tensors["text"][i].tolist())
    if kind == "ctc":
        return data.transcripts[i]
    return None


@dataclass
class Received:
    """What the channel decoder hands to a task head (the fields ``MFMSCSystem.decode`` reads)."""

    tokens: torch.Tensor   # [B, L, P]
    mask: torch.Tensor     # [B, L]
    symbols: torch.Tensor  # [B]


@dataclass
class Frame:
    """One instance on the channel: the symbols of its valid tokens and the token mask."""

    symbols: np.ndarray   # complex64 [valid tokens x symbols per token]
    mask: np.ndarray      # bool [tokens]


class TaskLink:
    """A trained MFMSC system (and its tokenizer) as a transmitter and receiver of single instances."""

    def __init__(self, system, tokenizer, geometry: dict | None = None, base_id: int = 1):
        self.system, self.tokenizer, self.geometry = system.eval(), tokenizer, geometry
        self.base_id = int(base_id)          # the bundle's id (semcom_core.symbols.bundle_id), 1 .. 65535
        self.per_token = int(system.channel_decoder.out) // 2     # complex symbols per token
        self.ctc_vocab = CharVocab()
        self._token_counts: dict[str, int] = {}

    # -- frames over a header with a number and a length only ---------------------------------------------
    def air_id(self, name: str) -> int:
        """The task's number in a frame header (1 .. 65535): the bundle's id plus the task's position."""
        self.task(name)
        return (self.base_id - 1 + list(self.system.tasks).index(name)) % _AIR_IDS + 1

    def task_of_air_id(self, number: int) -> str | None:
        """The task of a header number, None when it is not one of this bundle's."""
        names = list(self.system.tasks)
        position = (int(number) - self.base_id) % _AIR_IDS
        return names[position] if 1 <= int(number) <= _AIR_IDS and position < len(names) else None

    @torch.no_grad()
    def token_count(self, name: str) -> int:
        """Tokens per instance of task ``name`` (valid or not), from one blank instance (needs ``geometry``)."""
        if name not in self._token_counts:
            if self.geometry is None:
                raise ValueError("token_count needs the bundle's geometry")
            task = self.task(name)
            shapes = input_shapes(self.geometry)
            blank = np.zeros(instance_size(task.modalities, self.geometry), np.float32)
            batch = unpack_instances([blank], [{"speech_len": shapes["speech"][0]}], task.modalities, self.geometry)
            self._token_counts[name] = int(self.system.semantic_tokens(name, batch)[1].shape[1])
        return self._token_counts[name]

    def prefix_mask(self, name: str, symbols: int) -> np.ndarray:
        """The token mask of a frame of ``symbols`` symbols whose valid tokens come first; ValueError when
        the length is not whole tokens or more than the task has."""
        tokens, rest = divmod(int(symbols), self.per_token)
        total = self.token_count(name)
        if rest or not 1 <= tokens <= total:
            raise ValueError(f"{symbols} symbols are not 1..{total} tokens of {self.per_token} symbols ({name})")
        return np.arange(total) < tokens

    @staticmethod
    def is_prefix(mask: np.ndarray) -> bool:
        mask = np.asarray(mask, dtype=bool)
        return bool(mask[: int(mask.sum())].all())

    def task(self, name: str):
        if name not in self.system.tasks:
            raise ValueError(f"unknown task {name!r}; this system serves {', '.join(self.system.tasks)}")
        return self.system.tasks[name]

    @torch.no_grad()
    def transmit(self, name: str, batch: dict) -> list[Frame]:
        """One frame per instance of ``batch`` (task ``name``)."""
        self.task(name)
        system = self.system
        tokens, mask = system.semantic_tokens(name, batch)
        z = system.channel_encoder(tokens)
        b, length, d = z.shape
        active = mask.repeat_interleave(d // 2, dim=1)
        s, _side = system.codec.to_symbols(z.float().reshape(b, length * d), active)
        return [Frame(s[i][active[i]].numpy().astype(np.complex64), mask[i].numpy().astype(bool)) for i in range(b)]

    @torch.no_grad()
    def receive(self, name: str, frames: list[Frame]) -> tuple[torch.Tensor, torch.Tensor]:
        """(task head outputs [B, ...], token masks [B, L]) of received frames of task ``name``; raises
        ValueError for frames whose masks differ in length or whose symbols do not fill their mask."""
        self.task(name)
        per_token = self.per_token
        lengths = {len(f.mask) for f in frames}
        if len(lengths) != 1:
            raise ValueError(f"frames of one task carry masks of different lengths: {sorted(lengths)}")
        length = lengths.pop()
        mask = torch.as_tensor(np.stack([f.mask for f in frames]), dtype=torch.bool)
        active = mask.repeat_interleave(per_token, dim=1)
        y = torch.zeros(len(frames), length * per_token, dtype=torch.complex64)
        for i, f in enumerate(frames):
            if f.symbols.size != int(active[i].sum()):
                raise ValueError(f"{f.symbols.size} symbols for {int(mask[i].sum())} valid tokens of "
                                 f"{per_token} symbols each")
            y[i, active[i]] = torch.as_tensor(f.symbols)
        z_hat = self.system.codec.from_symbols(y, SideInfo(0, active.sum(1)), active)
        tokens = self.system.channel_decoder(z_hat.reshape(len(frames), length, 2 * per_token))
        return self.system.decode(name, Received(tokens, mask, active.sum(1)), {}), mask

    def predictions(self, name: str, outputs: torch.Tensor, mask: torch.Tensor) -> list:
        """The task's decision per instance (see the module docstring)."""
        kind = self.task(name).kind
        if kind == "classify":
            return outputs.argmax(-1).tolist()
        if kind == "multilabel":
            return [labels_to_mask(row) for row in (outputs > 0).numpy()]
        if kind == "text_recon":
            best = outputs.argmax(-1).masked_fill(~mask[:, 1:], 0)
            return [self.tokenizer.decode(row.tolist()) for row in best]
        if kind == "ctc":
            best = outputs.argmax(-1)
            return [self.ctc_vocab.ctc_greedy(row[:n].tolist()) for row, n in zip(best, mask[:, 1:].sum(1).tolist())]
        return [image.numpy().astype(np.float32) for image in outputs]
