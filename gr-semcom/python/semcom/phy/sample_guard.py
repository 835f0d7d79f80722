#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Non-finite samples become zeros before they reach the synchroniser."""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from ..base.log import OnceLog


class sample_guard(gr.sync_block):
    """Complex samples in and out; non-finite samples (NaN, inf) become 0 and are counted
    (``bad_samples()``), so that they cannot poison the running sums of the synchroniser."""

    def __init__(self):
        gr.sync_block.__init__(self, name="semcom_sample_guard", in_sig=[np.complex64], out_sig=[np.complex64])
        self._log = OnceLog(f"semcom_sample_guard{self.unique_id()}")

    def bad_samples(self) -> int:
        return self._log.total()

    def work(self, input_items, output_items):
        inp, out = input_items[0], output_items[0]
        out[:] = inp
        bad = ~np.isfinite(inp)
        if bad.any():
            out[bad] = 0
            self._log.problem("non-finite samples", "replaced by 0", n=int(bad.sum()))
        return len(out)
