"""How a sweep's runs trained: epochs used, best epoch, early stops, seconds, and the validation curves.

Reads what every image-family run holds (``run.json`` and the validation curve of each stage, from the run
folder's CSV logs or from the sweep's ledger) and writes ``training.md`` (one row per run and stage, and the sweep's total training time) and
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

__all__ = ["stage_curve", "stage_curves", "write_training_report"]


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


def stage_curves(run_dir: Path, run: dict) -> dict[str, list[tuple[int, float]]]:
    """The monitored validation curve of each training stage of a finished run (stage name -> points)."""
    return {stage["name"]: stage_curve(run_dir, f"{run['method']}-{stage['name']}", stage.get("monitor", "val/loss"))
            for stage in run.get("stages", [])}


def write_training_report(runs: dict[str, Path | dict], out_dir: Path, title: str) -> Path:
    """``training.md`` and ``training_curves.png`` in ``out_dir`` for the finished runs ``runs`` (name -> run
    folder, or a ledger entry with ``run`` and ``curves``); returns the markdown file."""
    out_dir = Path(out_dir)
    rows, curves, total = [], defaultdict(list), 0.0
    for name, source in sorted(runs.items()):
        if isinstance(source, dict):
            run, stage_points = source["run"], source.get("curves", {})
        elif (Path(source) / "run.json").is_file():
            run = json.loads((Path(source) / "run.json").read_text())
            stage_points = stage_curves(source, run)
        else:
            continue
        total += float(run.get("seconds", 0.0))
        for stage in run.get("stages", []):
            curve = [tuple(point) for point in stage_points.get(stage["name"], [])]
            if curve:
                curves[run["method"]].append((name if len(run.get("stages", [])) == 1 else f"{name} ({stage['name']})",
                                              curve, stage.get("best_epoch")))
            rows.append(f"| {name} | {stage['name']} | {stage.get('epochs_run', stage['epochs'])} / {stage['epochs']} "
                        f"| {stage.get('best_epoch', '-')} | {'yes' if stage.get('stopped_early') else 'no'} "
                        f"| {stage.get('seconds', '-')} |")
    text = [f"# {title}: how the runs trained", "",
            f"{len(runs)} runs; total training time {total / 3600:.2f} h (the sum of the runs' own seconds, "
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
