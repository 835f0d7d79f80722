#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Counting problems by reason, each logged once, and torch threads per block."""

from __future__ import annotations

import threading

from gnuradio import gr


class OnceLog:
    """Counts problems by reason and logs each reason only the first time."""

    def __init__(self, name: str):
        self.logger = gr.logger(name)
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def problem(self, reason: str, detail: str = "", n: int = 1) -> None:
        with self._lock:
            first = reason not in self.counts
            self.counts[reason] = self.counts.get(reason, 0) + n
        if first:
            msg = reason if not detail else f"{reason}: {detail}"
            self.logger.warn(f"{msg} (further cases are counted, not logged)")

    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())


def use_torch_threads(threads: int) -> None:
    """Set torch's intra-op threads for the calling thread (a block's scheduler thread).

    GNU Radio already runs every block in a thread of its own, so one torch
    thread per block avoids oversubscribing the cores. 0 leaves torch's default.
    """
    if threads and threads > 0:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(int(threads))


class DropCounter:
    """``dropped()``, ``drop_reasons()`` and ``drop()`` of a block that counts its drops on ``self._log``
    (an :class:`OnceLog`)."""

    _log: OnceLog

    def dropped(self) -> int:
        """Frames, PDUs or messages dropped."""
        return self._log.total()

    def drop_reasons(self) -> dict:
        return dict(self._log.counts)

    def drop(self, reason: str, detail: str = "", n: int = 1) -> None:
        self._log.problem(reason, detail, n)


class MessageSetting:
    """A value that messages set while a flowgraph runs (an SNR, a noise variance).

    ``parse(msg)`` turns a message into a value and ``check(value)`` validates one (both raise
    ``ValueError``); a message that fails is counted (``bad()``) and logged once, never raised.
    """

    def __init__(self, name: str, what: str, parse, check, value=None):
        self.what, self._parse, self._check = what, parse, check
        self._lock = threading.Lock()
        self._value = None if value is None else check(value)
        self._log = OnceLog(name)

    def set(self, value) -> None:
        value = self._check(value)
        with self._lock:
            self._value = value

    def get(self):
        with self._lock:
            return self._value

    def bad(self) -> int:
        return self._log.total()

    def reject(self, detail: str) -> None:
        """Count a value that arrived another way (a tag) and could not be used."""
        self._log.problem(f"invalid {self.what}", detail)

    def handle(self, msg) -> None:
        try:
            self.set(self._parse(msg))
        except Exception as err:  # noqa: BLE001 - a bad message is counted, never raised
            self._log.problem(f"invalid {self.what} message", str(err))


class Worker:
    """A daemon thread a block runs between ``start()`` and ``stop()``; ``target(stop_event)`` should return
    soon after the event is set. Both return True, as a block's scheduler hooks do."""

    def __init__(self, name: str, target):
        self.name, self._target = name, target
        self.stop_event = threading.Event()
        self._thread = None

    def start(self) -> bool:
        self.stop_event.clear()
        self._thread = threading.Thread(target=self._target, args=(self.stop_event,), name=self.name, daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout: float = 5.0) -> bool:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None
        return True


class RecordOnce:
    """Appends one result record to a JSON-lines file, once per run (a sink's ``stop()`` may come after it
    was written when its count was reached); a failure to write is logged on ``log``, never raised."""

    def __init__(self, out_path, log: OnceLog):
        self.out_path, self._log = str(out_path or ""), log
        self._lock = threading.Lock()
        self.written = False

    def write(self, make_record) -> None:
        """Append ``make_record()`` (a record or a list of them) unless there is no file or it was written
        already."""
        with self._lock:
            if not self.out_path or self.written:
                return
            self.written = True
        try:
            from semcom_core.records import append_records

            made = make_record()
            append_records(self.out_path, made if isinstance(made, list) else [made])
        except Exception as err:  # noqa: BLE001 - a write failure must not take the flowgraph down
            self._log.problem("cannot write record", f"{self.out_path}: {err!r}")
