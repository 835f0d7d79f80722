"""The eight embedded MFMSC tasks as tensors ready for the network.

=============  ==============  ============  =====================================================
task           modalities      kind          data
=============  ==============  ============  =====================================================
image_cls      image           classify      Fashion-MNIST, 10 classes
image_recon    image           image_recon   Fashion-MNIST, PSNR
text_cls       text            classify      topic sentences (weather, sports, food, computers)
text_recon     text            text_recon    fortunes of other files, BLEU
speech_asr     speech          ctc           phrases spoken by espeak-ng, noisy; word accuracy
video_cls      video           classify      Fashion-MNIST items moving 6 ways; the motion is the class
vqa            image, text     classify      2x2 item grids and questions about them; answer class
poster         image, text     multilabel    item groups in the image + fortune topics of the text; F1
=============  ==============  ============  =====================================================

Text goes through one sentencepiece tokenizer trained on the training texts of every text task
(byte fallback: any character is encodable). Texts longer than ``text_max_len`` tokens are truncated
(counted in ``TaskData.truncated``); empty texts are an error. Speech becomes 40 Kaldi filter banks per
10 ms, normalised per utterance (CMVN), cut or zero-padded to ``speech_frames`` frames (the true length travels with it); clipped samples
are clipped to [-1, 1] (counted). Clips are fitted to ``video_frames`` frames by
:func:`~semcom_core.data.mfmsc.vision.fit_frames`.
"""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass, field

import numpy as np
import torch

from ...models.mfmsc.heads import TaskHeadSpec
from . import speech as speech_data
from . import text as text_data
from . import topics
from . import vision

__all__ = ["TASKS", "TaskData", "TaskSpec", "build_tasks", "task_head_specs"]

TEXT_TOPICS = topics.TOPICS
TOPIC_SENTENCES = {"train": 4000, "test": 2000}   # the text_cls pool per split; tasks draw train_size/test_size
RECON_TOPICS = ("fortunes", "wisdom", "people", "literature", "miscellaneous")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    modalities: tuple[str, ...]
    kind: str


TASKS = {spec.name: spec for spec in [
    TaskSpec("image_cls", ("image",), "classify"),
    TaskSpec("image_recon", ("image",), "image_recon"),
    TaskSpec("text_cls", ("text",), "classify"),
    TaskSpec("text_recon", ("text",), "text_recon"),
    TaskSpec("speech_asr", ("speech",), "ctc"),
    TaskSpec("video_cls", ("video",), "classify"),
    TaskSpec("vqa", ("image", "text"), "classify"),
    TaskSpec("poster", ("image", "text"), "multilabel"),
]}


@dataclass
class TaskData:
    """One task's split as tensors, plus the raw items the classical links send.

    Attributes:
        spec: the task.
        tensors: model inputs and targets, all with the instances on the first axis. Keys among
            ``image`` [N,1,H,W], ``text`` [N,L] (token ids, 0 = padding), ``speech`` [N,T,bins],
            ``speech_len`` [N], ``video`` [N,F,1,S,S], ``target`` (class ids, multi-hot rows, token ids,
            character ids or images), ``target_len`` [N] (CTC).
        outputs: the size of the head's output (classes, labels, vocabulary).
        names: class, answer or label names (empty for reconstruction tasks).
        raw: the source items per modality (numpy arrays or strings), for the classical links.
        transcripts: reference transcripts (speech recognition).
        truncated: texts cut to the maximum length; clipped: utterances with clipped samples.
    """

    spec: TaskSpec
    tensors: dict[str, torch.Tensor]
    outputs: int
    names: list[str] = field(default_factory=list)
    raw: dict[str, list] = field(default_factory=dict)
    transcripts: list[str] = field(default_factory=list)
    decode_text: object = None
    decode_ctc: object = None
    truncated: int = 0
    clipped: int = 0

    def __len__(self) -> int:
        return len(self.tensors["target"])

    def head(self, n: int) -> "TaskData":
        """The first ``n`` instances (what a source that sends ``n`` per task sends)."""
        return dataclasses.replace(self, tensors={k: v[:n] for k, v in self.tensors.items()},
                                   transcripts=self.transcripts[:n],
                                   raw={k: v[:n] for k, v in self.raw.items()})

    def batch(self, indices) -> dict:
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        out = {key: value[idx] for key, value in self.tensors.items()}
        if self.transcripts:
            out["transcript"] = [self.transcripts[i] for i in idx.tolist()]
        return out


def task_head_specs(tasks: dict[str, TaskData], names) -> list:
    """The network's view of the tasks (name, modalities, kind, output size), in ``names`` order."""
    return [TaskHeadSpec(n, tasks[n].spec.modalities, tasks[n].spec.kind, tasks[n].outputs) for n in names]


# ---- text ----------------------------------------------------------------------------------------
def _fortune_split(topics, split: str) -> tuple[list[str], np.ndarray]:
    """Fortunes of ``topics`` in ``split`` (a fixed half of every file) with their topic index."""
    texts, labels = [], []
    for label, topic in enumerate(topics):
        items = vision.split_fortunes(topic, split)
        texts += items
        labels += [label] * len(items)
    return texts, np.asarray(labels, dtype=np.int64)


def _subsample(n: int, total: int, seed: int) -> np.ndarray:
    """``n`` of ``total`` indices in a seeded random order (all of them when there are fewer), so that
    any prefix of a split (the classical links evaluate one) is a fair sample of its classes."""
    return np.random.default_rng(seed).permutation(total)[:n]


def _tokenize(tokenizer, texts: list[str], max_len: int) -> tuple[torch.Tensor, int]:
    ids, _, truncated = tokenizer.encode_batch(texts, max_len)
    return torch.as_tensor(ids, dtype=torch.long), int(truncated)


def text_tensor(tokenizer, texts: list, max_len: int) -> torch.Tensor:
    """Token ids [N, max_len] of received texts; a lost or empty text becomes one unknown token."""
    rows = []
    for text in texts:
        if text is None or not text.strip():
            row = np.zeros(max_len, np.int64)
            row[0] = tokenizer.unk_id
        else:
            row = tokenizer.encode(text, max_len)[0]
        rows.append(row)
    return torch.as_tensor(np.stack(rows), dtype=torch.long)


def speech_tensors(waves: list, frames: int, bins: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Normalised filter banks [N, frames, bins] (per-utterance CMVN, cut or zero-padded), true lengths [N],
    utterances with clipping."""
    feats = np.zeros((len(waves), frames, bins), np.float32)
    lengths = np.zeros(len(waves), np.int64)
    clipped = 0
    for i, wave in enumerate(waves):
        clipped += int(np.abs(wave).max() > 1.0)
        f = speech_data.cmvn(speech_data.fbank_features(wave, num_bins=bins))[:frames]
        feats[i, :len(f)] = f
        lengths[i] = len(f)
    return torch.as_tensor(feats), torch.as_tensor(lengths), clipped


# ---- builders: each returns (tensors, outputs, names, raw) for one split ---------------------------
def _image_tasks(split, n, seed, cfg):
    images, labels = vision.fmnist_split(split, cfg.get("fmnist_root"))
    idx = _subsample(n, len(labels), seed)
    return images[idx], labels[idx]


def _build(name: str, split: str, n: int, seed: int, cfg: dict, tokenizer, texts_cache: dict) -> TaskData:
    spec = TASKS[name]
    max_len = int(cfg["text_max_len"])
    if name in ("image_cls", "image_recon"):
        images, labels = _image_tasks(split, n, seed + (0 if name == "image_cls" else 7), cfg)
        image = torch.as_tensor(images)
        if name == "image_cls":
            return TaskData(spec, {"image": image, "target": torch.as_tensor(labels)}, 10,
                            list(vision.CLASS_NAMES), raw={"image": list(images)})
        return TaskData(spec, {"image": image, "target": image}, 0, raw={"image": list(images)})
    if name in ("text_cls", "text_recon"):
        texts, labels = texts_cache[(name, split)]
        idx = _subsample(n, len(texts), seed)
        texts, labels = [texts[i] for i in idx], labels[idx]
        ids, truncated = _tokenize(tokenizer, texts, max_len)
        texts = [tokenizer.decode(row.tolist()) for row in ids]      # what is sent: the truncated text
        if name == "text_cls":
            return TaskData(spec, {"text": ids, "target": torch.as_tensor(labels)}, len(TEXT_TOPICS),
                            list(TEXT_TOPICS), raw={"text": texts}, truncated=truncated)
        return TaskData(spec, {"text": ids, "target": ids}, tokenizer.vocab_size, raw={"text": texts},
                        decode_text=tokenizer.decode, truncated=truncated)
    if name == "speech_asr":
        return _speech(spec, split, n, seed, cfg)
    if name == "video_cls":
        clips, labels, actions = vision.moving_clips(split, n, seed, frames=int(cfg["video_frames"]),
                                                     size=int(cfg["video_size"]))
        clips = np.stack([vision.fit_frames(c, int(cfg["video_frames"])) for c in clips])
        return TaskData(spec, {"video": torch.as_tensor(clips), "target": torch.as_tensor(labels)},
                        len(actions), list(actions), raw={"video": list(clips)})
    if name in ("vqa", "poster"):
        made = vision.vqa_scenes(split, n, seed) if name == "vqa" else vision.posters(split, n, seed)
        texts, target, names = ((made.questions, made.answers, made.answer_names) if name == "vqa"
                                else (made.texts, made.targets, made.label_names))
        ids, truncated = _tokenize(tokenizer, texts, max_len)
        return TaskData(spec, {"image": torch.as_tensor(made.images), "text": ids, "target": torch.as_tensor(target)},
                        len(names), list(names), raw={"image": list(made.images), "text": texts},
                        truncated=truncated)
    raise ValueError(f"unknown task {name!r}")


def _speech(spec: TaskSpec, split: str, n: int, seed: int, cfg: dict) -> TaskData:
    waves, transcripts = speech_data.spoken_phrases(n, seed=seed + (0 if split == "train" else 10_000),
                                                    cache_dir=cfg.get("cache_dir"))
    feats, lengths, clipped = speech_tensors(waves, int(cfg["speech_frames"]), int(cfg["speech_bins"]))
    vocab = speech_data.CharVocab()
    labels = [vocab.encode(t) for t in transcripts]
    longest = max(len(x) for x in labels)
    target = np.zeros((len(labels), longest), np.int64)
    for i, x in enumerate(labels):
        target[i, :len(x)] = x
    tensors = {"speech": feats, "speech_len": lengths,
               "target": torch.as_tensor(target), "target_len": torch.as_tensor([len(x) for x in labels])}
    return TaskData(spec, tensors, vocab.size, raw={"speech": list(waves)}, transcripts=list(transcripts),
                    decode_ctc=vocab.ctc_greedy, clipped=clipped)


def build_tasks(cfg: dict, splits=("train", "test"), tokenizer=None):
    """(train tasks, test tasks, tokenizer) for ``cfg['tasks']`` from the embedded data.

    Unless one is given (a bundle's), the tokenizer is trained on the training texts of every text task
    of the full task list, so that systems trained on different task subsets share one vocabulary.
    """
    data = cfg["data"]
    seed = int(cfg["seed"])
    texts_cache = {}
    for split in ("train", "test"):
        texts_cache[("text_cls", split)] = topics.topic_sentences(split, TOPIC_SENTENCES[split], seed)
        texts_cache[("text_recon", split)] = _fortune_split(RECON_TOPICS, split)
    if tokenizer is None:
        corpus = texts_cache[("text_cls", "train")][0] + texts_cache[("text_recon", "train")][0]
        corpus += vision.vqa_scenes("train", 500, 0).questions + vision.posters("train", 500, 0).texts
        tokenizer = text_data.SubwordTokenizer.train(corpus, vocab_size=int(data["vocab_size"]))
    out = []
    for split, n, offset in (("train", data["train_size"], 0), ("test", data["test_size"], 1)):
        if split not in splits:
            out.append({})
            continue
        per_task = (data.get("train_size_per_task") or {}) if split == "train" else {}
        out.append({name: _build(name, split, int(per_task.get(name, n)), seed * 100 + offset, data, tokenizer,
                                 texts_cache)
                    for name in cfg["tasks"]})
    return out[0], out[1], tokenizer
