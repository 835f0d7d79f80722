#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Running the semcom flowgraphs headless and as processes.

    from gnuradio.semcom import running
    summary = running.run_loopback("bundles/deepjscc-fmnist-1_12", snr_db=10, num_images=200)
    both = running.run_side_by_side("bundles/deepjscc-fmnist-1_12", snr_db=20, num_images=100)
    steps = running.run_adaptive_snr("bundles/a-mijscc-fmnist-8bit", snrs=(6, 12, 18, 21), images_per_snr=100)

- :mod:`.grc`: finding and compiling ``.grc`` files, loading their top blocks;
- :mod:`.run`: start, bounded wait for the metrics sinks, stop;
- :mod:`.loopback`: the symbol-level flowgraphs and the demo;
- :mod:`.ofdm`: the OFDM flowgraphs (stop when idle, reports) and the OFDM loopback;
- :mod:`.links`: frames and images through an OFDM link built in Python;
- :mod:`.process`: generated flowgraph scripts as processes (ZMQ links, radios);
- :mod:`.rgbd`: the multi-device RGB-D flowgraph (two devices, one server);
- :mod:`.mfmsc`: the MFMSC flowgraphs (one task, or every task mixed);
- :mod:`.capture`: OFDM transmissions recorded as SigMF captures, and captures replayed through the receiver.
"""

from .capture import record_capture, replay_capture
from .grc import compile_grc, compiled_top_block, find_flowgraph, grc_blocks_path, load_top_block_class
from .links import run_frames, run_image_link
from .mfmsc import make_mfmsc, make_mfmsc_ofdm, run_mfmsc, run_mfmsc_ofdm
from .loopback import demo, run_adaptive_snr, run_loopback, run_side_by_side
from .ofdm import ofdm_report, parse_reports, print_report, run_ofdm_loopback, stop_when_idle
from .process import free_tcp_port, read_records, script_options, start_script, stop_script, wait_for_record
from .rgbd import make_rgbd, make_rgbd_ofdm, run_rgbd, run_rgbd_ofdm
from .run import run_top_block

__all__ = ["compile_grc", "compiled_top_block", "demo", "find_flowgraph", "free_tcp_port", "grc_blocks_path",
           "load_top_block_class", "ofdm_report", "parse_reports", "print_report", "read_records", "record_capture", "replay_capture", "run_adaptive_snr",
           "make_mfmsc", "make_mfmsc_ofdm", "run_mfmsc_ofdm", "make_rgbd", "make_rgbd_ofdm", "run_mfmsc", "run_rgbd", "run_rgbd_ofdm",
           "run_frames", "run_image_link", "run_loopback", "run_ofdm_loopback", "run_side_by_side", "run_top_block",
           "script_options", "start_script", "stop_script", "stop_when_idle", "wait_for_record"]
