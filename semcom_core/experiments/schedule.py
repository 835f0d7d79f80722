"""Fitting a sweep's training runs into a time budget (a batch job's wall-time limit, a machine lent for hours).

A run cut off by the end of the budget is lost unless its folder survives, so a sweep given a budget starts
only the runs that can be expected to finish in the time left: the first such run in the sweep's order, so a
short run can use the last hour that a long one would not. A run's expected time is the median training time
of the same method's finished runs in the ledger (:class:`RunTimes`), scaled by this machine's pace, less the
time its folder has already spent (a resumed run); a method without a finished run yet is expected to fit.
Machines differ several-fold in time per epoch, so each run finished in the call measures the pace: its time per
epoch against the ledger's for its method (:meth:`Budget.observe`).
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


def epochs_trained(run: dict) -> int:
    """The epochs a finished run (its ``run.json`` dict) trained, over all its stages (a stage from before
    early stopping records only its fixed ``epochs``)."""
    return sum(int(stage.get("epochs_run", stage.get("epochs")) or 0) for stage in run.get("stages") or ())


class RunTimes:
    """How long a run is expected to train: the median time (over every attempt) of the finished runs (the
    ``run.json`` dicts given) of its method under the same training settings (max epochs, patience, ...), or
    of all its method's runs when none was trained under them; None for a method without a finished run.
    Likewise their median time per epoch."""

    def __init__(self, runs: Iterable[dict]):
        self.by_settings, self.by_method = defaultdict(list), defaultdict(list)
        for run in runs:
            if run.get("seconds"):
                entry = (float(run["seconds"]), epochs_trained(run))
                self.by_settings[run.get("method"), _settings(run.get("config") or {})].append(entry)
                self.by_method[run.get("method")].append(entry)

    def _runs(self, config: dict) -> list[tuple[float, int]]:
        return (self.by_settings.get((config.get("method"), _settings(config)))
                or self.by_method.get(config.get("method")) or [])

    def expected(self, config: dict) -> float | None:
        seconds = [s for s, _ in self._runs(config)]
        return statistics.median(seconds) if seconds else None

    def seconds_per_epoch(self, config: dict) -> float | None:
        rates = [s / epochs for s, epochs in self._runs(config) if epochs]
        return statistics.median(rates) if rates else None

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
    """When to stop starting runs. ``deadline`` is a ``time.time()`` value, None for no budget;
    ``expected(key)`` a run's expected training time at the ledger's pace, None where nothing is known;
    ``spent(key)`` the seconds its folder has trained already; ``per_epoch(key)`` the ledger's seconds per
    epoch for its method, None where unknown. ``pace`` (this machine's time per epoch over the ledger's)
    starts at 1 and is measured by :meth:`observe`."""

    def __init__(self, deadline: float | None, expected: Callable[[Key], float | None],
                 spent: Callable[[Key], float] = lambda key: 0.0,
                 per_epoch: Callable[[Key], float | None] = lambda key: None):
        self.deadline, self.expected, self.spent, self.per_epoch = deadline, expected, spent, per_epoch
        self.pace, self._paces = 1.0, []

    def expected_left(self, key: Key) -> float | None:
        expected = self.expected(key)
        return None if expected is None else max(0.0, expected * self.pace - self.spent(key))

    def observe(self, key: Key, run: dict) -> None:
        """Measure the pace on a run finished in this call (its ``run.json`` dict): its seconds per epoch over
        the ledger's for its method. The pace is the median over the runs observed; says it."""
        reference, epochs = self.per_epoch(key), epochs_trained(run)
        if self.deadline is None or not reference or not epochs or not run.get("seconds"):
            return
        self._paces.append(float(run["seconds"]) / epochs / reference)
        self.pace = statistics.median(self._paces)
        print(f"experiment: runs train at {self.pace:.2f}x the ledger's time per epoch here "
              f"(median of {len(self._paces)} run{'s' if len(self._paces) > 1 else ''} of this call); "
              f"expected times are scaled by it", flush=True)

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
    spent already, at the pace the call's finished runs measure. Says what it expects. Without a deadline the
    ledger is not read."""
    use_ledger = deadline is not None and ledger is not None
    times = RunTimes(entry["run"] for entry in ledger.runs().values()) if use_ledger else RunTimes([])

    if deadline is not None:
        print(f"experiment: time budget {describe(max(0.0, deadline - time.time()))}; expected run times: "
              + times.summary(configs.values()), flush=True)
    return Budget(deadline, lambda key: times.expected(configs[key]),
                  spent=lambda key: seconds_spent(dirs[key], configs[key]),
                  per_epoch=lambda key: times.seconds_per_epoch(configs[key]))
