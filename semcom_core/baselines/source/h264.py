"""H.264 (libx264 through PyAV) for short clips, counted as a raw Annex-B stream.

Bit accounting: ``bits = 8 * len(payload)``, the payload being the H.264
elementary stream in Annex-B byte-stream form exactly as x264 writes it
(start codes, SPS, PPS, every slice), with no container, minus x264's SEI
NAL units (its ~650-byte "x264 - core ..." options banner, which decoders do
not need).

Settings: preset ``veryslow`` and tune ``psnr``, one thread. A clip of a few
tiny frames costs milliseconds to encode at any preset, so the slowest
useful preset buys the best rate-distortion; ``zerolatency`` is not used
because it removes B-frames, lookahead and macroblock-tree rate control
(worse compression) to avoid a delay that does not matter when the whole
clip is encoded before sending; ``psnr`` turns off the psycho-visual
optimisations and adaptive quantisation, which spend bits on perceived
detail rather than on the PSNR the experiments measure; one thread keeps the
output deterministic and avoids threading overhead and extra slices. Frames
are coded intra + inter (one IDR frame, then P/B frames). The quality knob
is CRF 0..51 (lower is better; 0 is lossless).

Colour: grey clips are coded as 4:0:0 (x264's ``gray``); colour clips are
converted here to full-range BT.601 YCbCr with 2x2-averaged 4:2:0 chroma
(and back, with nearest-neighbour chroma upsampling), flagged full range in
the stream. Odd sizes are padded to even by edge replication and cropped
back after decoding (``meta["shape"]`` is the clip's shape).

Not bit-exact: libx264 (through PyAV, one thread) does not give the same
bytes on every call here. Encoding one 8-frame 28x28 clip at one CRF 40
times gave one stream; building its 52-CRF ladder 12 times gave 4 to 5
different sets, differing in some rungs by a few per cent in size (with the
input padded to 32x32 as well). Budgets are always respected; results
built from H.264 ladders vary by that much between runs.

Errors: FFmpeg's decoder conceals damaged slices, so a corrupted stream
usually still gives a (damaged) clip; it raises SourceDecodeError when FFmpeg
reports an error or the frames decoded are not the agreed number, size and
pixel format.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from .base import Encoded, SourceCodec, SourceDecodeError, make_ladder, unit_floats_to_uint8

__all__ = ["H264Codec"]

CRFS = tuple(range(52))
SEI_NAL_TYPE = 6
FULL_RANGE = 2  # AVCOL_RANGE_JPEG
PLANAR_420 = ("yuv420p", "yuvj420p")  # what FFmpeg's decoder gives (j: flagged full range)
_601 = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)


def _check_clip(item) -> np.ndarray:
    """A float clip ``[T, C, H, W]`` in [0, 1] as ``uint8 [T, H, W, C]``; ValueError otherwise."""
    return unit_floats_to_uint8(item, "TCHW", "a clip").transpose(0, 2, 3, 1)


def _to_planes(frame: np.ndarray) -> np.ndarray:
    """``uint8 [H, W, C]`` (even H, W) as the frame PyAV takes: gray, or yuv420p ``[3H/2, W]``."""
    if frame.shape[2] == 1:
        return np.ascontiguousarray(frame[:, :, 0])
    height, width = frame.shape[:2]
    ycc = frame.astype(np.float32) @ _601.T + np.array([0, 128, 128], np.float32)
    chroma = ycc[:, :, 1:].reshape(height // 2, 2, width // 2, 2, 2).mean(axis=(1, 3))
    planes = [ycc[:, :, 0], chroma[:, :, 0], chroma[:, :, 1]]
    flat = np.concatenate([np.clip(np.round(p), 0, 255).astype(np.uint8).ravel() for p in planes])
    return flat.reshape(height * 3 // 2, width)


def _from_planes(yuv: np.ndarray, height: int, width: int, channels: int) -> np.ndarray:
    """A decoded yuv420p frame ``[3H/2, W]`` back to ``uint8 [H, W, C]``."""
    luma = yuv[:height].astype(np.float32)
    if channels == 1:
        return luma.astype(np.uint8)[:, :, None]
    chroma = yuv[height:].reshape(2, height // 2, width // 2).astype(np.float32) - 128
    chroma = chroma.repeat(2, axis=1).repeat(2, axis=2)
    rgb = np.stack([luma, *chroma], axis=-1) @ np.linalg.inv(_601).T
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def _drop_sei(stream: bytes) -> bytes:
    """The Annex-B stream without its SEI NAL units (start codes of the others kept)."""
    parts = stream.split(b"\x00\x00\x01")
    out = []
    for before, part in zip(parts, parts[1:]):
        nal = part.rstrip(b"\x00")          # trailing zeros belong to the next start code
        if nal and nal[0] & 0x1F != SEI_NAL_TYPE:
            out.append((b"\x00\x00\x00\x01" if before.endswith(b"\x00") else b"\x00\x00\x01") + nal)
    return b"".join(out)


class H264Codec(SourceCodec):
    """Clips ``[T, C, H, W]`` as H.264 byte streams; quality = CRF (lower is better).

    Args:
        crfs: the CRF grid of the ladder (0..51; all of them by default).
        preset: x264 preset (default ``veryslow``, see the module docstring).
        tune: x264 tune (default ``psnr``).
    """

    name = "h264"

    def __init__(self, crfs=CRFS, preset: str = "veryslow", tune: str = "psnr"):
        self.crfs = tuple(sorted({int(c) for c in crfs}, reverse=True))
        if not self.crfs or not all(0 <= c <= 51 for c in self.crfs):
            raise ValueError(f"crfs must lie in 0..51, got {crfs!r}")
        self.preset, self.tune = preset, tune

    def ladder(self, item) -> list[Encoded]:
        clip = _check_clip(item)
        frames, height, width, channels = clip.shape
        padded = np.pad(clip, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        planes = [_to_planes(frame) for frame in padded]
        meta = {"shape": (frames, channels, height, width)}
        candidates = [Encoded(data, 8 * len(data), float(crf), dict(meta))
                      for crf in self.crfs for data in [self._stream(planes, padded.shape, crf)]]
        return make_ladder(candidates)

    def _stream(self, planes: list[np.ndarray], shape: tuple, crf: int) -> bytes:
        _, height, width, channels = shape
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height = width, height
        ctx.pix_fmt = "gray" if channels == 1 else "yuv420p"
        ctx.time_base = Fraction(1, 25)
        ctx.thread_count = 1
        ctx.color_range = FULL_RANGE
        ctx.options = {"preset": self.preset, "tune": self.tune, "crf": str(crf)}
        packets = []
        for plane in planes:
            packets += ctx.encode(av.VideoFrame.from_ndarray(plane, format=ctx.pix_fmt))
        packets += ctx.encode(None)
        return _drop_sei(b"".join(bytes(p) for p in packets))

    def decode(self, payload: bytes, meta: dict) -> np.ndarray:
        shape = meta.get("shape") if isinstance(meta, dict) else None
        if (not isinstance(shape, (tuple, list)) or len(shape) != 4 or shape[1] not in (1, 3)
                or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in shape)):
            raise ValueError(f"meta must hold the clip shape [T, C, H, W], got {meta!r}")
        frames, channels, height, width = (int(s) for s in shape)
        even_h, even_w = height + height % 2, width + width % 2
        try:
            ctx = av.CodecContext.create("h264", "r")
            ctx.thread_count = 1
            decoded = []
            for packet in ctx.parse(bytes(payload)) + ctx.parse(None):
                decoded += ctx.decode(packet)
            decoded += ctx.decode(None)
        except (av.FFmpegError, ValueError) as err:
            raise SourceDecodeError(f"H.264 stream does not decode: {err}") from err
        if len(decoded) != frames or any(f.format.name not in PLANAR_420 or (f.height, f.width) != (even_h, even_w)
                                         for f in decoded):
            raise SourceDecodeError(f"H.264 stream decoded to {len(decoded)} frames "
                                    f"{sorted({(f.format.name, f.height, f.width) for f in decoded})}, expected "
                                    f"{frames} 4:2:0 frames of {even_h}x{even_w}")
        clip = np.stack([_from_planes(f.to_ndarray(), even_h, even_w, channels) for f in decoded])
        return np.ascontiguousarray(clip[:, :height, :width].transpose(0, 3, 1, 2), dtype=np.float32) / 255
