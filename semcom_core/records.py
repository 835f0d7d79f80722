"""Result records: one JSON object per evaluated point, appended to a .jsonl file.

Tables and plots are always made from records, never by hand.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from . import __version__

RECORD_FIELDS = ("method", "dataset", "channel", "snr_db", "ratio", "psnr", "ssim", "accuracy",
                 "samples", "seed", "code_version", "source")


def make_record(method: str, dataset: str, channel: str, snr_db: float, ratio: float, metrics: dict,
                samples: int, seed: int, source: str = "eval", **extra) -> dict:
    record = {"method": method, "dataset": dataset, "channel": channel, "snr_db": float(snr_db),
              "ratio": float(ratio), "samples": int(samples), "seed": seed, "code_version": __version__,
              "source": source}
    record.update({key: (None if value is None else float(value)) for key, value in metrics.items()})
    record.update(extra)
    return record


def append_records(path: str | Path, records: list[dict]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        for record in records:
            f.write(json.dumps(record, sort_keys=True, allow_nan=True) + "\n")


def replace_records(out_dir: str | Path, records: list[dict], table: str) -> Path:
    """A comparison's results in ``out_dir``: ``records.jsonl`` (replacing an earlier run's) and ``results.md``
    (the table); returns the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "records.jsonl").unlink(missing_ok=True)
    append_records(out / "records.jsonl", records)
    (out / "results.md").write_text(table + "\n")
    return out


def write_results(out_dir: str | Path, name: str, records: list[dict], table: str) -> Path:
    """A measurement's results in ``out_dir``: ``name.jsonl`` (the records, replacing an earlier run's)
    and ``name.md`` (the table); returns the folder, for the plot beside them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{name}.jsonl", "w") as f:
        for rec in records:
            f.write(json.dumps(rec, default=str) + "\n")
    (out / f"{name}.md").write_text(table + "\n")
    return out


def read_records(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"records file {path} does not exist")
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{number}: not a JSON record ({err})") from err
    return records


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.{digits}f}"
    return str(value)


def format_table(records: list[dict], columns=("method", "channel", "ratio", "snr_db", "psnr", "ssim",
                                                 "accuracy", "samples", "source")) -> str:
    rows = [[_fmt(r.get(c), 4 if c in ("ratio", "ssim", "accuracy") else 2) for c in columns] for r in records]
    widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c) for i, c in enumerate(columns)]
    line = lambda cells: "  ".join(cell.rjust(w) for cell, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, rows)])


def print_table(records: list[dict], **kw) -> None:
    print(format_table(records, **kw))
