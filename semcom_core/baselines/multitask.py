"""The classical links of the MFMSC comparisons: every modality source-coded, channel-coded and sent.

Per modality (Zhu et al., Section V-A 5): images JPEG + LDPC, text UTF-8 + turbo, speech 16-bit PCM +
LDPC, video H.264 + LDPC, each followed by QAM, through the same semcom channels as the learned systems
(:class:`~semcom_core.baselines.link.DigitalLink`). The paper does not match bandwidth for these links, so
each modality gets the channel uses its largest item needs at a fixed source quality (JPEG quality 75,
H.264 CRF 23, lossless text and PCM); the overhead table reports what they cost.

At the receiver, reconstruction tasks score the decoded items directly; the other tasks run the
semantic system's own task network on the decoded items over a noiseless link (``NOISELESS_DB``), so the
comparison isolates what the link delivers. A lost item (failed codeword, undecodable bytes) becomes a
stand-in: the mean image or clip of the items sent, silence, or an unknown-word text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..channels import make_channel
from ..metrics.tasks import TaskScore
from .link import CodeChoice, DigitalLink
from .source import make_source_codec

__all__ = ["DEFAULT_LINKS", "ModalityLink", "NOISELESS_DB", "evaluate_classical", "question_prior_accuracy",
           "send_items"]

NOISELESS_DB = 100.0


@dataclass(frozen=True)
class ModalityLink:
    codec: str
    codec_args: tuple
    choice: CodeChoice

    @property
    def label(self) -> str:
        return f"{self.codec} + {self.choice.label}"


DEFAULT_LINKS = {
    "image": ModalityLink("jpeg", (("qualities", (75,)),), CodeChoice("wimax", "1/2", 4, 2304)),
    "text": ModalityLink("utf8", (), CodeChoice("turbo", "1/3", 4)),
    "speech": ModalityLink("pcm16", (), CodeChoice("wimax", "1/2", 4, 2304)),
    "video": ModalityLink("h264", (("crfs", (23,)),), CodeChoice("wimax", "1/2", 4, 2304)),
}


def channel_uses_for(link: DigitalLink, bits: int) -> int:
    """The fewest channel uses whose plan carries a ``bits``-bit payload (binary search over the plan)."""
    low, high = 1, 1
    while not (link.plan(high).feasible and link.plan(high).budget_bits >= bits):
        low, high = high, high * 2
    while low < high:
        mid = (low + high) // 2
        plan = link.plan(mid)
        if plan.feasible and plan.budget_bits >= bits:
            high = mid
        else:
            low = mid + 1
    return high


def send_items(modality: str, items: list, channel_name: str, snr_db: float, seed: int = 0,
               links: dict = DEFAULT_LINKS) -> tuple[list, dict]:
    """Send one modality's items through its classical link: (received items, None where lost; stats).

    Stats: ``channel_uses`` per item, ``payload_bytes`` (mean source bytes per item) and the link's
    counters (delivered, channel and source failures).
    """
    spec = links[modality]
    codec = make_source_codec(spec.codec, **dict(spec.codec_args))
    link = DigitalLink(codec, spec.choice)
    encoded = [codec.encode(item) for item in items]
    uses = channel_uses_for(link, max(e.bits for e in encoded))
    generator = torch.Generator().manual_seed(seed)
    received, counters = link.send(encoded, make_channel(channel_name), snr_db, uses, generator=generator)
    stats = {"channel_uses": uses, "payload_bytes": float(np.mean([len(e.payload) for e in encoded])),
             **counters.as_dict(), "link": spec.label}
    return received, stats


def _stand_ins(modality: str, sent: list, received: list) -> list:
    """Received items with each lost one replaced by the modality's stand-in."""
    if modality in ("image", "video"):
        fallback = np.mean(np.stack(sent), axis=0).astype(np.float32)
    elif modality == "speech":
        fallback = np.zeros(16000, np.float32)
    else:
        fallback = None                              # text: handled by the tokenizer as one unknown token
    return [fallback if item is None else item for item in received]


def evaluate_classical(system, data, channel_name: str, snr_db: float, tokenizer, max_items: int | None = None,
                       seed: int = 0, batch_size: int = 100) -> dict:
    """One task's metric when its inputs travel over the classical links (see the module docstring)."""
    from ..data.mfmsc.tasks import speech_tensors, text_tensor

    count = len(data) if max_items is None else min(max_items, len(data))
    kind = data.spec.kind
    received, stats = {}, {}
    for m in data.spec.modalities:
        sent = data.raw[m][:count]
        items, stats[m] = send_items(m, sent, channel_name, snr_db, seed)
        received[m] = _stand_ins(m, sent, items)
    score = TaskScore(kind, decode_text=data.decode_text, decode_ctc=data.decode_ctc)
    if kind == "image_recon":
        score.add_predictions(np.stack(received["image"]), data.raw["image"][:count])
    elif kind == "text_recon":
        score.add_predictions([t if t is not None else "" for t in received["text"]], data.raw["text"][:count])
    else:
        tensors = {}
        if "image" in received:
            tensors["image"] = torch.as_tensor(np.stack(received["image"]))
        if "video" in received:
            tensors["video"] = torch.as_tensor(np.stack(received["video"]))
        if "text" in received:
            tensors["text"] = text_tensor(tokenizer, received["text"], data.tensors["text"].shape[1])
        if "speech" in received:
            feats, lengths, _ = speech_tensors(received["speech"], data.tensors["speech"].shape[1],
                                               data.tensors["speech"].shape[2])
            tensors["speech"], tensors["speech_len"] = feats, lengths
        channel = make_channel("awgn")
        with torch.no_grad():
            for start in range(0, count, batch_size):
                idx = np.arange(start, min(start + batch_size, count))
                batch = data.batch(idx)
                batch.update({k: v[torch.as_tensor(idx)] for k, v in tensors.items()})
                output, _ = system(data.spec.name, batch, channel, NOISELESS_DB)
                lengths = system.speech_output_lengths(batch["speech_len"]) if kind == "ctc" else None
                score.add(output, batch, lengths)
    delivered = min(s["delivered"] / max(s["sent"], 1) for s in stats.values())
    return {score.metric: score.value(), "samples": count, "delivered": delivered,
            "channel_uses_per_instance": sum(s["channel_uses"] for s in stats.values()),
            "bytes_per_instance": sum(s["payload_bytes"] for s in stats.values()),
            "links": {m: s["link"] for m, s in stats.items()}}


def question_prior_accuracy(train, test) -> float:
    """Accuracy of the question-only prior of a VQA task: every test question gets the answer most often
    given to the same question text in training (to the most frequent training answer when the text never
    occurs there). No image is used: a VQA model must beat this to show that it looks at the image."""
    if "text" not in train.raw or "text" not in test.raw:
        raise ValueError("the question-only prior needs the questions' texts (raw['text']) of both splits")
    answers = train.tensors["target"].tolist()
    counts: dict[str, dict[int, int]] = {}
    for question, answer in zip(train.raw["text"], answers):
        counts.setdefault(question, {}).setdefault(answer, 0)
        counts[question][answer] += 1
    overall = max(set(answers), key=answers.count)
    guesses = [max(counts[q], key=counts[q].get) if q in counts else overall for q in test.raw["text"]]
    truth = test.tensors["target"].tolist()
    return sum(g == t for g, t in zip(guesses, truth)) / len(truth)
