"""From latent vectors to channel symbols: power, quantiser, constellation, codec, framing of side info."""

from .codec import SymbolCodec
from .constellation import SquareConstellation
from .framing import HEADER_SYMBOLS, FrameError, frame_symbols, frame_symbols_batch, parse_frame, parse_frames
from .power import complex_to_real, normalize_power, real_to_complex
from .quantize import AsymmetricQuantizer, dequantize, quantize
from .sideinfo import SideInfo

__all__ = [
    "HEADER_SYMBOLS",
    "AsymmetricQuantizer",
    "FrameError",
    "SideInfo",
    "SquareConstellation",
    "SymbolCodec",
    "complex_to_real",
    "dequantize",
    "frame_symbols",
    "frame_symbols_batch",
    "normalize_power",
    "parse_frame",
    "parse_frames",
    "quantize",
    "real_to_complex",
]
