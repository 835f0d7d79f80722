#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The GNU Radio benchmarks of ``semcom bench``: each prints figures from one run.

- :mod:`.flowgraph`: the loopback flowgraph against bare batched inference of the same models;
- :mod:`.mijscc`: analog, 8-bit and A-MIJSCC frames through the SNR-schedule flowgraph;
- :mod:`.ofdm`: the OFDM transmitter, receiver and whole link;
- :mod:`.gap`: the full OFDM chain with impairments against the symbol-level link;
- :mod:`.ldpc`: gr-fec's LDPC decoder beside the library's;
- :mod:`.rgbd`: the multi-device RGB-D flowgraph against the library (accuracy, samples/s);
- :mod:`.mfmsc`: the mixed-task MFMSC flowgraph against the library (each task's metric, instances/s).
"""
