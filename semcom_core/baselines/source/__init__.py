"""Source codecs of the classical digital link, each fitting a bit budget.

Every codec encodes an item at every setting of its quality grid
(:meth:`SourceCodec.ladder`) and a budget picks the best rung that fits
(:func:`fit`). Names for :func:`make_source_codec`:

- ``"bpg"``: images, HEVC intra (x265 via pillow-heif) counted as BPG files;
- ``"jpeg"``: images, JPEG (Pillow);
- ``"utf8"``: text, UTF-8 bytes (lossless);
- ``"pcm16"``: waveforms, 16-bit PCM;
- ``"h264"``: short clips, H.264 (libx264 via PyAV) as a raw Annex-B stream.
"""

from __future__ import annotations

from .base import Encoded, SourceCodec, SourceDecodeError, fit
from .bpg import BPGCodec
from .h264 import H264Codec
from .jpeg import JPEGCodec
from .pcm import PCM16Codec
from .text import UTF8Codec

__all__ = ["BPGCodec", "Encoded", "H264Codec", "JPEGCodec", "PCM16Codec", "SOURCE_CODECS", "SourceCodec",
           "SourceDecodeError", "UTF8Codec", "fit", "make_source_codec"]

SOURCE_CODECS = {"bpg": BPGCodec, "jpeg": JPEGCodec, "utf8": UTF8Codec, "pcm16": PCM16Codec, "h264": H264Codec}


def make_source_codec(name: str, **kwargs) -> SourceCodec:
    """The codec called ``name`` (see the module docstring), built with ``kwargs``.

    Raises ValueError for an unknown name or arguments the codec does not take.
    """
    if name not in SOURCE_CODECS:
        raise ValueError(f"unknown source codec {name!r}; known: {', '.join(SOURCE_CODECS)}")
    try:
        return SOURCE_CODECS[name](**kwargs)
    except TypeError as err:
        raise ValueError(f"bad arguments for source codec {name!r}: {err}") from err
