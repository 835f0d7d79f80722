"""Fitting a sweep's training runs into a time budget (a batch job's wall-time limit, a machine lent for hours).

A run cut off by the end of the budget is lost unless its folder survives, so a sweep given a budget starts
only the runs that can be expected to finish in the time left: the first such run in the sweep's order, so a
short run can use the last hour that a long one would not. A run's expected time is the median training time
of the same method's finished runs in the ledger (:class:`RunTimes`), less the time its folder has already
spent (a resumed run); a method without a finished run yet is expected to fit.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence, TypeVar

from ..runs.folder import TRAINING_SETTINGS
from ..runs.resume import seconds_spent

Key = TypeVar("Key")

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?")


def parse_duration(text: str) -> float:
    """Seconds in a duration written as ``2h30m``, ``90m``, ``1.5h``, ``45s`` or a plain number of seconds."""
    match = _DURATION.fullmatch(text.replace(" ", "").lower())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration (write it as 2h30m, 90m, 1.5h or 5400)")
    hours, minutes, seconds = (float(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"the duration {text!r} is not positive")
    return total


def _settings(config: dict) -> tuple:
    trainer = config.get("trainer") or {}
    return tuple(str(trainer.get(name)) for name in TRAINING_SETTINGS)


class RunTimes:
    """How long a run is expected to train: the median time (over every attempt) of the finished runs (the
    ``run.json`` dicts given) of its method under the same training settings (max epochs, patience, ...), or
    of all its method's runs when none was trained under them; None for a method without a finished run."""

    def __init__(self, runs: Iterable[dict]):
        self.by_settings, self.by_method = defaultdict(list), defaultdict(list)
        for run in runs:
            if run.get("seconds"):
                self.by_settings[run.get("method"), _settings(run.get("config") or {})].append(float(run["seconds"]))
                self.by_method[run.get("method")].append(float(run["seconds"]))

    def expected(self, config: dict) -> float | None:
        seconds = (self.by_settings.get((config.get("method"), _settings(config)))
                   or self.by_method.get(config.get("method")))
        return statistics.median(seconds) if seconds else None

    def summary(self, configs: Iterable[dict]) -> str:
        """The expected time of each method among ``configs`` (their first config's settings)."""
        first = {}
        for config in configs:
            first.setdefault(config.get("method"), config)
        known = {method: self.expected(config) for method, config in sorted(first.items(), key=lambda m: str(m[0]))}
        return ", ".join(f"{m} {describe(s)}" for m, s in known.items() if s is not None) or "none known yet"


def describe(seconds: float) -> str:
    """A duration for people: ``1 h 05 min`` or ``12 min``."""
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


class Budget:
    """When to stop starting runs. ``expected_left(key)`` is a run's expected remaining time, None where
    nothing is known; ``deadline`` is a ``time.time()`` value, None for no budget."""

    def __init__(self, deadline: float | None, expected_left: Callable[[Key], float | None]):
        self.deadline = deadline
        self.expected_left = expected_left

    def time_left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.time()

    def fits(self, key: Key) -> bool:
        expected, left = self.expected_left(key), self.time_left()
        return left > 0 and (expected is None or expected <= left)

    def next_run(self, queue: Sequence[Key]) -> Key | None:
        """The first run in ``queue`` expected to finish in time; None when none is."""
        return next((key for key in queue if self.fits(key)), None)


def sweep_budget(deadline: float | None, ledger, configs: Mapping[Key, dict], dirs: Mapping[Key, Path]) -> Budget:
    """The budget of a sweep whose runs have these configs and folders: each expected to take as long as the
    finished runs in ``ledger`` (a :class:`Ledger` or None) say (:class:`RunTimes`), less what its folder has
    spent already. Says what it expects. Without a deadline the ledger is not read."""
    use_ledger = deadline is not None and ledger is not None
    times = RunTimes(entry["run"] for entry in ledger.runs().values()) if use_ledger else RunTimes([])

    def expected_left(key: Key) -> float | None:
        expected = times.expected(configs[key])
        return None if expected is None else max(0.0, expected - seconds_spent(dirs[key], configs[key]))

    if deadline is not None:
        print(f"experiment: time budget {describe(max(0.0, deadline - time.time()))}; expected run times: "
              + times.summary(configs.values()), flush=True)
    return Budget(deadline, expected_left)
