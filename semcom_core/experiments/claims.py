"""A paper's claims checked against records, with "beats" and "close" defined once.

A claim compares two systems at one point (the mean over seeds of each). "Beats" means ahead by more than
the larger standard deviation over seeds and by more than the test set's resolution: for an accuracy, the
binomial standard error of the difference of the two accuracies at their test-set sizes (the records'
``samples``: 0.0044 for two accuracies near 0.89 on 10 000 images each, 0.011 near 0.85 on 2000); 0.1 dB
of PSNR; 0.01 of another metric in [0, 1], or of an accuracy whose test-set size is not recorded. "Close" means
within 1 dB of PSNR, or 0.03 of a metric in [0, 1], either way; "keeps up" means not behind by more than
that (level or ahead). Each check gives a row: the claim, the paper's figure and number, ours
(mean ± std), the verdict, and for a claim that does not hold the measured reason (from ablation records).
"""

from __future__ import annotations

import math

__all__ = ["CLOSE", "Stats", "beats", "claim_row", "claims_markdown", "close", "keeps_up", "resolution", "stats_of"]

CLOSE = {"psnr": 1.0, "ssim": 0.03}
CLOSE_DEFAULT = 0.03
RESOLUTION = {"psnr": 0.1}
RESOLUTION_DEFAULT = 0.01


class Stats(tuple):
    """(mean, std, n, samples) of a metric over a point's seeds; ``samples``: the smallest test set among
    them, None when a record does not say."""

    mean = property(lambda self: self[0])
    std = property(lambda self: self[1])
    n = property(lambda self: self[2])
    samples = property(lambda self: self[3])

    def text(self, metric: str) -> str:
        scale, digits, unit = (1.0, 2, " dB") if metric == "psnr" else (100.0, 1, " %")
        spread = f" ± {scale * self.std:.{digits}f}" if self.n > 1 else ""
        return f"{scale * self.mean:.{digits}f}{spread}{unit}"


def stats_of(records: list[dict], metric: str, **match) -> Stats | None:
    """The mean, std (population), count and smallest test set (``samples``) of ``metric`` over the records
    matching every ``match`` item (floats compared to 1e-9); None when none has it."""
    values, sizes = [], []
    for r in records:
        if all(abs(r.get(k, math.nan) - v) < 1e-9 if isinstance(v, float) else r.get(k) == v for k, v in match.items()):
            if r.get(metric) is not None and math.isfinite(float(r[metric])):
                values.append(float(r[metric]))
                sizes.append(r.get("samples"))
    if not values:
        return None
    mean = sum(values) / len(values)
    samples = None if None in sizes else min(int(n) for n in sizes)
    return Stats((mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)), len(values), samples))


def resolution(a: Stats, b: Stats, metric: str) -> float:
    """The smallest difference the test sets resolve: for accuracies with known test-set sizes the binomial
    standard error of their difference, else the fixed figure for the metric."""
    if metric == "accuracy" and a.samples and b.samples:
        return math.sqrt(a.mean * (1 - a.mean) / a.samples + b.mean * (1 - b.mean) / b.samples)
    return RESOLUTION.get(metric, RESOLUTION_DEFAULT)


def beats(a: Stats, b: Stats, metric: str) -> bool:
    return a.mean - b.mean > max(a.std, b.std, resolution(a, b, metric))


def close(a: Stats, b: Stats, metric: str) -> bool:
    return abs(a.mean - b.mean) <= CLOSE.get(metric, CLOSE_DEFAULT)


def keeps_up(a: Stats, b: Stats, metric: str) -> bool:
    return a.mean >= b.mean - CLOSE.get(metric, CLOSE_DEFAULT)


VERDICTS = {"beats": beats, "close": close, "keeps up": keeps_up}


def claim_row(claim: str, paper: str, a_name: str, a: Stats | None, b_name: str, b: Stats | None, metric: str,
              want: str = "beats", reason=None) -> dict:
    """One row: ``a`` against ``b`` on ``metric``; ``want`` one of :data:`VERDICTS`. Missing records: "not measured".
    ``reason``: a callable giving the measured reason, asked only when the claim does not hold (the ablation
    records it cites may be missing: it then returns "")."""
    if want not in VERDICTS:
        raise ValueError(f"want must be one of {', '.join(VERDICTS)}, got {want!r}")
    if a is None or b is None:
        return {"claim": claim, "paper": paper, "ours": "-", "verdict": "not measured", "reason": ""}
    holds = VERDICTS[want](a, b, metric)
    ours = f"{a_name} {a.text(metric)} vs {b_name} {b.text(metric)}"
    return {"claim": claim, "paper": paper, "ours": ours, "verdict": "holds" if holds else "does not hold",
            "reason": "" if holds or reason is None else reason()}


def claims_markdown(rows: list[dict]) -> str:
    lines = ["| claim | paper | ours (mean ± std over seeds) | verdict | measured reason, where it does not hold |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['claim']} | {r['paper']} | {r['ours']} | {r['verdict']} | {r.get('reason', '')} |" for r in rows]
    return "\n".join(lines)
