#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""GNU Radio blocks of the semcom semantic-communication toolkit.

The blocks are thin wrappers around ``semcom_core``: they load an exported
model bundle and call the library's encoder, symbol codec, channels, decoder
and metrics.

- ``image_source``: dataset images as PDUs
- ``jscc_tx``: image PDUs -> tagged stream of k complex symbols per image
- ``channel``: AWGN / Rayleigh / Rician / Sionna TDL on a tagged stream
- ``air_monitor``: passes complex samples through and reports their count, rate and burst power
- ``tdl_channel``: Sionna TDL multipath fading on complex baseband samples (e.g. between OFDM blocks)
- ``jscc_rx``: tagged stream -> reconstructed image PDUs with the class decision
- ``metrics_sink``: PSNR, SSIM and accuracy against the originals, result records
- ``mijscc_tx``: image PDUs -> frames with a header carrying the side information (q, end, z_min,
  z_max) and the MIJSCC / A-MIJSCC payload; the A-MIJSCC mask follows the ``noise_var`` messages
- ``mijscc_rx``: framed stream -> decoded image PDUs; bad headers and side information are dropped
- ``ofdm_tx``: payload frames -> OFDM bursts of many images behind one preamble and one LDPC-coded
  header (``semcom_core.link.air``)
- ``ofdm_rx``: a continuous sample stream -> equalised payload frames, one per image, with the header's
  fields, the quantiser ranges and the estimated SNR as tags; every loss counted
- ``rgbd_source``, ``rgbd_device_tx``, ``rgbd_device_rx``, ``rgbd_server``: the multi-modal system on
  separate devices: samples per modality, a transmitter per device, the server's receiver per device, and
  the server that pairs, fuses and classifies (falling back to the devices heard when a frame is lost)
- ``mfmsc_source``, ``mfmsc_tx``, ``mfmsc_rx``, ``task_metrics_sink``: MFMSC's multi-task system: task
  instances as PDUs, fused semantic symbols per instance, each task's output (label, text, transcript,
  image) and each task scored with its own metric
- ``snr_schedule``: steps the channel's SNR (and tells the transmitter) while a flowgraph runs
- ``digital_tx``: image PDUs -> source code (BPG, JPEG) + LDPC + QAM, one frame per image
- ``digital_rx``: tagged stream -> decoded image PDUs (lost images as the mean image) with the
  class decision of the semantic bundle's classifier

Beside the blocks: ``base`` (what the blocks share: frame accounting, tags, the transmitter and receiver
bases), ``phy`` (the air between the OFDM blocks, as impairments), ``running`` (compile and run the flowgraphs in
``flowgraphs/`` headless, or as processes), ``bench`` (benchmarks), ``plots``, ``cli`` (the GNU Radio
commands of ``semcom``) and ``testing`` (helpers of the QA tests).
"""

from .air_monitor import air_monitor
from .channel import channel
from .digital_rx import digital_rx
from .digital_tx import digital_tx
from .image_source import image_source
from .jscc_rx import jscc_rx
from .jscc_tx import jscc_tx
from .metrics_sink import metrics_sink
from .mfmsc_rx import mfmsc_rx
from .mfmsc_source import mfmsc_source
from .mfmsc_tx import mfmsc_tx
from .mijscc_rx import mijscc_rx
from .mijscc_tx import mijscc_tx
from .ofdm_rx import ofdm_rx
from .ofdm_tx import ofdm_tx
from .rgbd_device_rx import rgbd_device_rx
from .rgbd_device_tx import rgbd_device_tx
from .rgbd_server import rgbd_server
from .rgbd_source import rgbd_source
from .snr_schedule import snr_schedule
from .task_metrics_sink import task_metrics_sink
from .tdl_channel import tdl_channel

__all__ = ["air_monitor", "channel", "digital_rx", "digital_tx", "image_source", "jscc_rx", "jscc_tx", "metrics_sink", "mfmsc_rx",
           "mfmsc_source", "mfmsc_tx", "mijscc_rx",
           "mijscc_tx", "ofdm_rx", "ofdm_tx", "rgbd_device_rx", "rgbd_device_tx", "rgbd_server", "rgbd_source",
           "snr_schedule", "task_metrics_sink", "tdl_channel"]
