"""JPEG through Pillow (libjpeg), quality 1..95.

Bit accounting: the whole JPEG file is sent and counted (SOI, quantisation
and optimised Huffman tables, frame and scan headers, entropy-coded data,
EOI), ``bits = 8 * len(payload)``. The JFIF APP0 segment Pillow writes
(18 bytes) is removed: decoders do not need it (a 1-component file is grey,
a 3-component one YCbCr), and no EXIF or other metadata is written. Grey
images are coded as 1-component JPEG ('L'); colour ones as YCbCr 4:2:0
(Pillow's default, like BPG's).

Errors: a payload that does not start with SOI and end with EOI (every
truncation), that Pillow cannot parse or decode, or whose frame header does
not give the agreed size and component count raises SourceDecodeError; the
size is checked before any pixel is decoded. Bit flips inside the
entropy-coded data mostly still decode (JPEG has no checksum; libjpeg
conceals), giving a damaged image. Truncation is detected by the EOI check
alone, so it does not depend on Pillow's global
``ImageFile.LOAD_TRUNCATED_IMAGES``, which this module never changes.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .base import (Encoded, SourceCodec, SourceDecodeError, check_image_meta, image_to_uint8, make_ladder,
                   uint8_to_image)

__all__ = ["JPEGCodec"]

QUALITIES = tuple(range(1, 96))
SOI, EOI, APP0 = b"\xff\xd8", b"\xff\xd9", b"\xff\xe0"
MODES = {1: "L", 3: "RGB"}


def _jpeg(pixels: np.ndarray, quality: int) -> bytes:
    """``uint8 [H, W, C]`` as a JPEG file without its JFIF APP0 segment."""
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels, MODES[pixels.shape[2]])
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    data = out.getvalue()
    if data[2:4] == APP0:
        data = SOI + data[4 + int.from_bytes(data[4:6], "big"):]
    return data


class JPEGCodec(SourceCodec):
    """Baseline JPEG images; quality = Pillow's JPEG quality (higher is better).

    Args:
        qualities: the quality grid of the ladder (1..95; all of them by default).
    """

    name = "jpeg"

    def __init__(self, qualities=QUALITIES):
        self.qualities = tuple(sorted({int(q) for q in qualities}))
        if not self.qualities or not all(1 <= q <= 95 for q in self.qualities):
            raise ValueError(f"qualities must lie in 1..95, got {qualities!r}")

    def ladder(self, item) -> list[Encoded]:
        pixels = image_to_uint8(item)
        meta = {"shape": (pixels.shape[2], pixels.shape[0], pixels.shape[1])}
        candidates = [Encoded(data, 8 * len(data), float(q), dict(meta))
                      for q in self.qualities for data in [_jpeg(pixels, q)]]
        return make_ladder(candidates)

    def decode(self, payload: bytes, meta: dict) -> np.ndarray:
        channels, height, width = check_image_meta(meta)
        payload = bytes(payload)
        if not (payload.startswith(SOI) and payload.endswith(EOI)):
            raise SourceDecodeError("not a complete JPEG file (no SOI at the start or no EOI at the end)")
        try:
            with Image.open(io.BytesIO(payload), formats=["JPEG"]) as image:
                if image.size != (width, height) or image.mode != MODES[channels]:
                    raise SourceDecodeError(f"JPEG is {image.mode} {image.size[0]}x{image.size[1]}, "
                                            f"expected {MODES[channels]} {width}x{height}")
                pixels = np.asarray(image.convert(MODES[channels]))
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            raise SourceDecodeError(f"JPEG does not decode: {err}") from err
        return uint8_to_image(pixels.reshape(height, width, channels))
