"""A sweep's ledger: what each finished run was and what was measured on it, as small JSON files kept
with the results, so that a sweep continues where the run folders (the weights) are gone.

A sweep's run folders live in ``--runs`` and can be lost with the machine that trained them; the ledger
(``<out>/ledger/``, committed with the results) is not. It holds

* ``<run>.json`` per finished run: its ``run.json``, the validation curve of each training stage and every
  record evaluated from it, each under a key naming what that evaluation depends on;
* ``classifiers/``: the downstream classifiers the sweep trained once and every run shares (their weights
  too: runs trained in different places must see the same classifier).

A sweep reuses a run the ledger holds with the same config (the check of
:func:`semcom_core.runs.folder.finished_run`) without retraining it; it recomputes a point only where the
run folder is present, and leaves out (and names) a point whose run it has neither weights nor a record of.
A run trained again replaces its entry and the records taken from the old weights.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

from ..runs.config import ConfigError
from ..runs.folder import RUN_FILE, config_differences, read_run
from .training_report import stage_curves

__all__ = ["LEDGER_FORMAT", "Ledger"]

LEDGER_FORMAT = "semcom-ledger/1"


class Ledger:
    """The ledger folder of one sweep's results (``<out>/ledger``)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._entries: dict[str, dict | None] = {}

    # --- runs ----------------------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def entry(self, name: str) -> dict | None:
        """The entry of run ``name``, or None; ConfigError naming the file when it is not a ledger entry."""
        if name not in self._entries:
            path = self.path(name)
            entry = None
            if path.is_file():
                try:
                    entry = json.loads(path.read_text())
                except json.JSONDecodeError as err:
                    raise ConfigError(f"{path} is not valid JSON ({err}); restore it from version control or "
                                      "delete it (the run is then trained again)") from err
                if not isinstance(entry, dict) or entry.get("format") != LEDGER_FORMAT or "run" not in entry:
                    raise ConfigError(f"{path} is not a {LEDGER_FORMAT} entry")
            self._entries[name] = entry
        return self._entries[name]

    def holds(self, name: str, cfg: dict, ignore=()) -> bool:
        """True when the ledger has run ``name`` trained with ``cfg`` (as :func:`config_differences` compares
        them, keys in ``ignore`` aside); ConfigError when it has a run of that name with another config, as
        for a run folder."""
        entry = self.entry(name)
        if entry is None:
            return False
        differ = config_differences(entry["run"]["config"], cfg, ignore)
        if differ:
            raise ConfigError(f"{self.path(name)} records a {entry['run'].get('method')!r} run whose config differs in "
                              f"{', '.join(differ)}; delete the entry or write the results to another --out folder")
        return True

    def add_run(self, name: str, run_dir: str | Path) -> dict:
        """Enter (or refresh) the finished run in ``run_dir``; its records are kept while the run is the same
        training (same ``created`` stamp) and dropped when it was trained again."""
        run = read_run(run_dir)
        old = self.entry(name)
        if old and old["run"].get("created") == run.get("created"):
            return old                                   # the same training, entered already
        entry = {"format": LEDGER_FORMAT, "name": name, "run": run, "curves": stage_curves(run_dir, run),
                 "points": {}}
        self._write(name, entry)
        return entry

    def runs(self) -> dict[str, dict]:
        """Every entry in the ledger, by run name."""
        return {p.stem: self.entry(p.stem) for p in sorted(self.folder.glob("*.json"))}

    # --- records -------------------------------------------------------------------------------------
    def point(self, name: str, key: str, run_dir: Path | None, compute: Callable[[], object]):
        """The record(s) stored for run ``name`` under ``key``; otherwise ``compute()``'s, stored, when the
        run folder is here (entered first if need be); None when neither is. The sweeps enter every run
        folder (:meth:`add_run`) before asking, so a run trained again has dropped its old records."""
        entry = self.entry(name)
        if entry is not None and key in entry["points"]:
            return entry["points"][key]
        if run_dir is None or not (Path(run_dir) / RUN_FILE).is_file():
            return None
        entry = entry or self.add_run(name, run_dir)
        entry["points"][key] = compute()
        self._write(name, entry)
        return entry["points"][key]

    def _write(self, name: str, entry: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.path(name).with_suffix(".json.tmp")
        tmp.write_text(json.dumps(entry, indent=1, sort_keys=True, default=str) + "\n")
        tmp.replace(self.path(name))
        self._entries[name] = entry

    # --- shared classifiers --------------------------------------------------------------------------
    def restore_classifier(self, name: str, runs_dir: Path) -> bool:
        """Copy classifier ``name`` from the ledger into ``runs_dir/classifiers`` when the runs folder lacks
        it; True when the runs folder has it afterwards."""
        src, dst = self.folder / "classifiers", Path(runs_dir) / "classifiers"
        if (dst / f"{name}.json").is_file():
            kept = src / f"{name}.safetensors"
            if kept.is_file() and kept.read_bytes() != (dst / f"{name}.safetensors").read_bytes():
                raise ConfigError(f"classifier {name!r} in {dst} is not the one the ledger {self.folder} keeps (the "
                                  "records there were measured with the latter): move one away")
            return True
        if not (src / f"{name}.json").is_file() or not (src / f"{name}.safetensors").is_file():
            return False
        dst.mkdir(parents=True, exist_ok=True)
        for suffix in (".safetensors", ".json"):      # the JSON last: it marks the classifier as finished
            shutil.copyfile(src / f"{name}{suffix}", dst / f"{name}{suffix}")
        return True

    def keep_classifier(self, name: str, runs_dir: Path) -> None:
        """Copy classifier ``name`` (weights and facts) from ``runs_dir/classifiers`` into the ledger."""
        src, dst = Path(runs_dir) / "classifiers", self.folder / "classifiers"
        if (dst / f"{name}.json").is_file():
            return
        dst.mkdir(parents=True, exist_ok=True)
        for suffix in (".safetensors", ".json"):
            shutil.copyfile(src / f"{name}{suffix}", dst / f"{name}{suffix}")
