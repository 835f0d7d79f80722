"""The classical link's figures at the points of a semantic experiment: every (code, QAM) pair and the
capacity bound per (channel, SNR, ratio), and the best pair per point. Shared by the digital, SemCC and
MIJSCC experiments."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from tqdm import tqdm

from ..baselines.images import ImageLadders, evaluate_capacity, evaluate_link, lost_image
from ..baselines.link import DigitalLink, default_choices
from ..baselines.source import make_source_codec
from ..channels import make_channel
from ..records import make_record

__all__ = ["best_digital_records", "best_per_point", "points"]


def best_per_point(records: list[dict]) -> list[dict]:
    """Per (method, channel, SNR, ratio): accuracy of the best pair by accuracy, PSNR and SSIM of the
    best pair by PSNR (usually the same pair); ``best_accuracy``/``best_psnr`` name the pairs."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["method"], r["channel"], r["snr_db"], r["ratio"]), []).append(r)
    best = []
    for group in groups.values():
        by_acc = max(group, key=lambda r: (r["accuracy"], r["psnr"]))
        by_psnr = max(group, key=lambda r: (r["psnr"], r["accuracy"]))
        best.append({**by_psnr, "accuracy": by_acc["accuracy"], "variant": "baseline", "config": "best",
                     "best_accuracy": by_acc["config"], "best_psnr": by_psnr["config"]})
    return best


def points(setup, ladders: ImageLadders, codec: str, choices, ratios, snrs, channels, seed: int,
           desc: str) -> list[dict]:
    """Every pair of ``choices`` and the capacity bound at each (channel, SNR, ratio). ``setup`` holds the
    dataset name, samples, labels, classifier (and its name), the lost-image fallback and
    ``channel_uses(ratio)``."""
    links = [DigitalLink(ladders.codec, c) for c in choices]
    grid = [(ch, snr, ratio) for ch in channels for snr in snrs for ratio in ratios]
    records = []
    for channel_name, snr, ratio in tqdm(grid, desc=desc, unit="point"):
        k = setup.channel_uses(ratio)
        common = dict(dataset=setup.dataset, channel=channel_name, snr_db=snr, ratio=ratio, samples=setup.samples,
                      seed=seed, source="experiment")
        extra = dict(classifier=setup.classifier_name, k=k)
        for link in links:
            channel = make_channel(channel_name, generator=torch.Generator().manual_seed(seed))
            m = evaluate_link(link, ladders, setup.labels, setup.fallback, setup.classifier, channel, snr, k)
            records.append(make_record(f"{codec}+ldpc", metrics=m, **common, **extra, variant=link.choice.short,
                                       config=link.choice.short, config_label=link.choice.label))
        channel = make_channel(channel_name, generator=torch.Generator().manual_seed(seed))
        m = evaluate_capacity(ladders, setup.labels, setup.fallback, setup.classifier, channel, snr, k)
        records.append(make_record(f"{codec}+capacity", metrics=m, **common, **extra, variant="baseline",
                                   config="capacity"))
    return records


def best_digital_records(dataset: str, images: torch.Tensor, labels: torch.Tensor, classifier, classifier_name: str,
                         channel_uses, ratios, snrs, channels, codec: str = "bpg", codes: dict | None = None,
                         seed: int = 0, progress: bool = True) -> list[dict]:
    """The classical link beside a semantic figure: BPG (or ``codec``) + LDPC + QAM, the best pair per point,
    and the capacity bound, for the given test images, downstream classifier and ``channel_uses(ratio)``."""
    codes = codes or {}
    source = make_source_codec(codec)
    ladders = ImageLadders(source, images, progress=progress)
    setup = SimpleNamespace(dataset=dataset, samples=len(images), labels=labels, classifier=classifier,
                            classifier_name=classifier_name, fallback=lost_image(dataset), channel_uses=channel_uses)
    choices = default_choices(codes.get("family", "wimax"), int(codes.get("n", 576)),
                              codes.get("rates", ("1/2", "3/4")), codes.get("qams", (4, 16, 64)))
    records = points(setup, ladders, source.name, choices, list(ratios), [float(x) for x in snrs], list(channels),
                      seed, "digital link")
    return best_per_point([r for r in records if r.get("config") != "capacity"]) + \
        [r for r in records if r.get("config") == "capacity"]
