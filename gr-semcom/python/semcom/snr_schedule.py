#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""SNR schedule: changes the channel's SNR (and tells the transmitter) while a flowgraph runs."""

from __future__ import annotations

import math
import threading

import pmt
from gnuradio import gr

from semcom_core.units import noise_var_from_snr_db

from .base.log import OnceLog, Worker
from .base.pdu import register_ports


class snr_schedule(gr.basic_block):
    """Step through a list of SNRs, image by image (or every ``period_s`` seconds).

    Message input ``pdu``: the image PDUs on their way to the transmitter
    (from ``image_source``). Message outputs:

    - ``pdu``: the same PDUs, their metadata extended with the scheduled
      ``snr_db`` and ``noise_var`` (``10^(-snr_db/10)``); connect it to the
      transmitter's ``pdu`` port. ``mijscc_tx`` encodes a PDU carrying
      ``noise_var`` with that value, so which image is sent for which SNR does
      not depend on thread timing.
    - ``snr_db``: a PMT double each time the SNR changes (for ``channel``'s
      ``snr_db`` port);
    - ``noise_var``: a PMT double each time the SNR changes (for
      ``mijscc_tx``'s ``noise_var`` port, as channel feedback would supply it).

    With ``period_s`` = 0 (the default) image ``i`` (counting the PDUs seen
    from 0) gets ``snrs[(i // images_per_step) % len(snrs)]``; without
    ``cycle`` the last SNR stays once the list is used up. With ``period_s``
    > 0 a timer started in ``start()`` steps through the list every
    ``period_s`` seconds instead (for live runs).

    Changes are posted before the PDU that first uses the new SNR is
    forwarded. The channel applies a new SNR from its next ``work()`` call, so
    frames already on their way may see it: the receiver's ``snr_db`` metadata
    says what each frame actually got.

    Getters: ``seen()``, ``step()``, ``current_snr_db()``, ``changes()``
    (list of ``(image count, snr_db)`` at each change).
    """

    def __init__(self, snrs=(6.0, 12.0, 18.0, 21.0), images_per_step=100, cycle=True, period_s=0.0):
        gr.basic_block.__init__(self, name="semcom_snr_schedule", in_sig=None, out_sig=None)
        snrs = [float(s) for s in (snrs if isinstance(snrs, (list, tuple)) else [snrs])]
        if not snrs or not all(math.isfinite(s) for s in snrs):
            raise ValueError(f"snrs must be a non-empty list of finite SNRs in dB, got {snrs!r}")
        if int(images_per_step) < 1:
            raise ValueError(f"images_per_step must be >= 1, got {images_per_step!r}")
        self.snrs = snrs
        self.images_per_step = int(images_per_step)
        self.cycle = bool(cycle)
        self.period_s = max(0.0, float(period_s))
        self._lock = threading.Lock()
        self._seen = 0
        self._step = -1            # no SNR announced yet
        self._changes: list = []
        self._worker = Worker("semcom_snr_schedule", self._timer)
        self._log = OnceLog(f"semcom_snr_schedule{self.unique_id()}")
        register_ports(self, {"pdu": self._handle_pdu}, outputs=("pdu", "snr_db", "noise_var"))

    # -- getters -------------------------------------------------------------
    def seen(self) -> int:
        return self._seen

    def step(self) -> int:
        return self._step

    def current_snr_db(self) -> float:
        return self.snrs[max(self._step, 0) % len(self.snrs)]

    def changes(self) -> list:
        with self._lock:
            return list(self._changes)

    def snr_for_image(self, i: int) -> float:
        """The SNR image ``i`` gets in image-count mode."""
        step = int(i) // self.images_per_step
        step = step % len(self.snrs) if self.cycle else min(step, len(self.snrs) - 1)
        return self.snrs[step]

    # -- behaviour -------------------------------------------------------------
    def _announce(self, step: int) -> None:
        """Post the SNR of ``step`` (lock held)."""
        self._step = step
        snr = self.snrs[step]
        self._changes.append((self._seen, snr))
        self.message_port_pub(pmt.intern("snr_db"), pmt.from_double(snr))
        self.message_port_pub(pmt.intern("noise_var"), pmt.from_double(noise_var_from_snr_db(snr)))

    def _handle_pdu(self, msg):
        try:
            with self._lock:
                if self.period_s > 0:
                    step = max(self._step, 0)
                else:
                    step = self._seen // self.images_per_step
                    step = step % len(self.snrs) if self.cycle else min(step, len(self.snrs) - 1)
                if step != self._step:
                    self._announce(step)
                self._seen += 1
                snr = self.snrs[step]
            car = pmt.car(msg) if pmt.is_pair(msg) else None
            if car is None or not (pmt.is_dict(car) or pmt.is_null(car)):
                self._log.problem("not an image PDU", "message is not a pair of a metadata dict and a vector")
                self.message_port_pub(pmt.intern("pdu"), msg)   # pass through; the transmitter counts it
                return
            meta = pmt.make_dict() if pmt.is_null(car) else car
            meta = pmt.dict_add(meta, pmt.intern("snr_db"), pmt.from_double(snr))
            meta = pmt.dict_add(meta, pmt.intern("noise_var"), pmt.from_double(noise_var_from_snr_db(snr)))
            self.message_port_pub(pmt.intern("pdu"), pmt.cons(meta, pmt.cdr(msg)))
        except Exception as err:  # noqa: BLE001 - a bad message must not stop the flowgraph
            self._log.problem("schedule failure", repr(err))

    def start(self):
        if self.period_s > 0:
            with self._lock:
                if self._step < 0:
                    self._announce(0)
            self._worker.start()
        return True

    def stop(self):
        return self._worker.stop(timeout=2.0)

    def _timer(self, stop):
        while not stop.wait(self.period_s):
            with self._lock:
                nxt = self._step + 1
                if nxt >= len(self.snrs):
                    if not self.cycle:
                        continue
                    nxt = 0
                self._announce(nxt)
