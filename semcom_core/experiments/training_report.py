"""How a sweep's runs trained: epochs used, best epoch, early stops, seconds, and the validation curves.

Reads what every image-family run folder already holds (``run.json`` and the CSV logs of each stage) and
writes ``training.md`` (one row per run and stage, and the sweep's total training time) and
``training_curves.png`` (the monitored validation value per epoch, one panel per method, one line per run,
its best epoch marked).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .figures import DPI  # noqa: E402

__all__ = ["stage_curve", "write_training_report"]


def stage_curve(run_dir: Path, log_name: str, metric: str) -> list[tuple[int, float]]:
    """(epoch, value) of ``metric`` from the newest CSV log ``logs/<log_name>/version_*/metrics.csv``."""
    versions = sorted((Path(run_dir) / "logs" / log_name).glob("version_*/metrics.csv"),
                      key=lambda p: int(p.parent.name.split("_")[-1]))
    if not versions:
        return []
    points = {}
    with versions[-1].open() as f:
        for row in csv.DictReader(f):
            if row.get(metric):
                points[int(row["epoch"]) + 1] = float(row[metric])
    return sorted(points.items())


def write_training_report(dirs: dict[str, Path], out_dir: Path, title: str) -> Path:
    """``training.md`` and ``training_curves.png`` in ``out_dir`` for the finished runs ``dirs`` (name ->
    folder); returns the markdown file."""
    out_dir = Path(out_dir)
    rows, curves, total = [], defaultdict(list), 0.0
    for name, run_dir in sorted(dirs.items()):
        path = Path(run_dir) / "run.json"
        if not path.is_file():
            continue
        run = json.loads(path.read_text())
        total += float(run.get("seconds", 0.0))
        for stage in run.get("stages", []):
            monitor = stage.get("monitor", "val/loss")
            curve = stage_curve(run_dir, f"{run['method']}-{stage['name']}", monitor)
            if curve:
                curves[run["method"]].append((name if len(run.get("stages", [])) == 1 else f"{name} ({stage['name']})",
                                              curve, stage.get("best_epoch")))
            rows.append(f"| {name} | {stage['name']} | {stage.get('epochs_run', stage['epochs'])} / {stage['epochs']} "
                        f"| {stage.get('best_epoch', '-')} | {'yes' if stage.get('stopped_early') else 'no'} "
                        f"| {stage.get('seconds', '-')} |")
    text = [f"# {title}: how the runs trained", "",
            f"{len(dirs)} runs; total training time {total / 3600:.2f} h (the sum of the runs' own seconds, "
            "classifier included).", "",
            "| run | stage | epochs run / at most | best epoch | stopped early | seconds |", "|---|---|---|---|---|---|",
            *rows, "", "![validation curves](training_curves.png)"]
    md = out_dir / "training.md"
    md.write_text("\n".join(text) + "\n")
    if curves:
        methods = sorted(curves)
        fig, axes = plt.subplots(1, len(methods), figsize=(4.4 * len(methods), 3.6), squeeze=False)
        for ax, method in zip(axes[0], methods):
            for label, curve, best in curves[method]:
                line, = ax.plot(*zip(*curve), lw=0.8, alpha=0.7, label=label if len(curves[method]) <= 8 else None)
                if best is not None and best in dict(curve):
                    ax.plot(best, dict(curve)[best], "o", color=line.get_color(), ms=3)
            ax.set_title(method, fontsize=10)
            ax.set_xlabel("epoch")
            ax.set_ylabel("validation objective (dot: best epoch)")
            ax.grid(alpha=0.3)
            if len(curves[method]) <= 8:
                ax.legend(fontsize=6)
        fig.suptitle(f"{title}: validation curves")
        fig.tight_layout()
        fig.savefig(out_dir / "training_curves.png", dpi=DPI)
        plt.close(fig)
    return md
