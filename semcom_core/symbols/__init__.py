"""From latent vectors to channel symbols: power, quantiser, constellation, codec."""

from .codec import SymbolCodec
from .constellation import SquareConstellation
from .power import complex_to_real, normalize_power, real_to_complex
from .quantize import AsymmetricQuantizer, dequantize, quantize

__all__ = [
    "AsymmetricQuantizer",
    "SquareConstellation",
    "SymbolCodec",
    "complex_to_real",
    "dequantize",
    "normalize_power",
    "quantize",
    "real_to_complex",
]
