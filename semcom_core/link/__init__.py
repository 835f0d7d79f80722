"""The semantic link layer: the one chain from images to channel symbols and back.

    image --encoder--> z --[A-MIJSCC mask]--> quantise / map (SymbolCodec) --> symbols + SideInfo
      --(channel: a semcom channel, a GNU Radio flowgraph, a radio)-->
      demap / dequantise, zero-fill past ``end`` --> z_hat --decoder--> image

:class:`Transceiver` holds the networks and runs both halves, batched; :func:`frames_of` and
:func:`batch_of` go between a batch and the per-image frames that streams and headers carry.
"""

from ..symbols import FrameError, SideInfo
from .frames import batch_of, frames_of
from .transceiver import Sent, Transceiver, symbol_powers, transceiver_specs

__all__ = ["FrameError", "Sent", "SideInfo", "Transceiver", "batch_of", "frames_of", "symbol_powers", "transceiver_specs"]
