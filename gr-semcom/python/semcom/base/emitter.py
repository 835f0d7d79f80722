#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""What the source blocks share: items published as PDUs once, from a thread, between start() and stop()."""

from __future__ import annotations

import threading

from gnuradio import gr

from .log import Worker


class EmittingSource:
    """Mixin of the source blocks (``image_source``, ``rgbd_source``, ``mfmsc_source``).

    The block calls :meth:`init_emitter` with how many items it has; a thread started in ``start()`` calls
    the block's ``publish(i)`` for i = 0 .. count - 1, ``interval_ms`` apart, once; the block then stays
    idle (PDU flowgraphs do not finish by themselves) until ``stop()``. A failure is logged, never raised.
    Getters: ``emitted()``, ``finished()``.
    """

    def init_emitter(self, name: str, count: int, interval_ms: float) -> None:
        self._emitter_name, self._emit_count = name, int(count)
        self._interval = max(0.0, float(interval_ms)) / 1000.0
        self._worker = Worker(name, self._emit)
        self._emitted = 0
        self._finished = threading.Event()

    def publish(self, i: int) -> None:
        raise NotImplementedError

    def emitted(self) -> int:
        return self._emitted

    def finished(self) -> bool:
        return self._finished.is_set()

    def start(self):
        return self._worker.start()

    def stop(self):
        return self._worker.stop(timeout=5.0)

    def _emit(self, stop) -> None:
        self._finished.clear()
        self._emitted = 0
        try:
            for i in range(self._emit_count):
                if stop.is_set():
                    return
                self.publish(i)
                self._emitted = i + 1
                if self._interval > 0 and stop.wait(self._interval):
                    return
        except Exception as err:  # noqa: BLE001 - report, do not kill the process
            gr.logger(self._emitter_name).error(f"emitting failed: {err!r}")
        finally:
            self._finished.set()
