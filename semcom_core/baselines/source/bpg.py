"""BPG: an HEVC intra picture (x265, through pillow-heif) sent as a BPG file.

BPG (bellard.org/bpg) is one HEVC intra picture behind a few bytes of header.
Here x265 codes the picture through pillow-heif (libheif), and the link sends
the bytes a BPG file (specification 0.9.5) would hold for that picture, not
the HEIF container (whose ftyp/meta/iloc/hvcC boxes take ~400 bytes, more
than the coded slice of a 28x28 image):

    file_magic "BPG\\xfb"                                      4 bytes
    pixel_format (0 grey, 1 4:2:0), alpha1 = 0, bit depth 8     1 byte
    colour space / extension / alpha2 / range / animation = 0   1 byte
    ue7 width, ue7 height, ue7 picture_data_length               1 byte each below 128, 2 below 16384
    hevc_header: ue7 length + BPG's compact SPS fields           4 bytes here
    hevc_data: the PPS NAL unit, then for each coded slice NAL
               unit a 4-byte start code and the NAL unit         the rest

Bit accounting: ``bits = 8 * len(payload)`` and the payload *is* that file,
field for field: the compact SPS fields are read from x265's SPS and written
with the spec's ue(v)/u(n) codes, as bpgenc does, and the PPS and slice NAL
units are x265's own bytes (emulation prevention included) behind x265's
own 4-byte start codes, which bpgenc copies as they are. For a 28x28 grey
image that is 23 or 24 bytes around the slice (4 + 2 + 3 or 4 + 4 + 6 + 4). The one
difference from a bpgenc file is the coded picture size, and it can only
over-count: libheif hands x265 at least 64x64 pixels, so an image with a
side under 64 is padded (here by this codec, by edge replication, to 64, so
that x265 codes one 64x64 coding tree unit; libheif's own padding, with
16x16 units, costs ~10 bytes more and fails with preset placebo), while
bpgenc pads to a multiple of 8 only (28x28 -> 32x32). The padded area costs
a few slice bytes: on Fashion-MNIST, 2 to 10 bytes (4 to 12 %) over x265 run
on the 28x28 picture itself (mean over 20 images, preset slow: 60 -> 67
bytes at QP 46, 185 -> 195 at QP 30, 399 -> 401 at QP 12). Other settings
follow bpgenc's x265 front end: constant QP (the knob, 0..51; bpgenc adds 1
to its ``-q`` for 8 bits), preset placebo (bpgenc's default level 8), tune
ssim without psycho-visual RD, 4:2:0 chroma for colour images (BPG's
default), monochrome HEVC for grey ones, 8 bits, full-range BT.601, no SEI.

Receiver: BPG leaves out the VPS and SPS because they follow from the header;
here they follow from (coded width, coded height, grey/colour): x265 puts the
QP in each slice header (slice_qp_delta) and writes the same VPS, SPS and PPS
for any content and QP of a given size and mode (checked at every encode:
an encode whose parameter sets differ from the template's raises
RuntimeError). The receiver encodes a template picture of that size and mode
once (cached), checks the received compact header and PPS against it, and
decodes the template's HEIF file with its coded data replaced by the
received slices (libde265).

Errors: every header field is checked strictly (magic, format byte, sizes
against the agreed shape, shortest ue7 codes, exact length, NAL unit headers),
so a truncated or extended payload always raises SourceDecodeError. Bit
flips inside the slice data are not detectable by BPG (it has no checksum):
libde265 conceals them and returns a damaged picture, or reports an error
(SourceDecodeError). libde265 decodes in this process: ~66,000 corrupted
payloads (bit flips and random tails anywhere after the header; truncated,
random, extended and duplicated slices behind valid headers) were fuzzed in
child processes without a crash or a hang (slowest decode 23 ms).
"""

from __future__ import annotations

import functools
import io
import struct
from dataclasses import dataclass

import numpy as np
import pillow_heif

from .base import (Encoded, SourceCodec, SourceDecodeError, check_image_meta, image_to_uint8, make_ladder,
                   uint8_to_image)

__all__ = ["BPGCodec"]

MAGIC = b"BPG\xfb"
START_CODE = b"\x00\x00\x00\x01"
MIN_SIDE = 64                  # libheif never hands x265 less than 64 pixels a side
QPS = tuple(range(52))         # HEVC's QP range, BPG's quality knob
X265_PARAMS = {"preset": "placebo", "tune": "ssim", "x265:psy-rd": "0", "x265:psy-rdoq": "0",
               "x265:pools": "none"}
IRAP_NAL_TYPES = range(16, 22)  # BLA/IDR/CRA: the slice types of an intra picture


# -- bit-level helpers ---------------------------------------------------------
class _BitReader:
    """Reads u(n) and ue(v) fields, most significant bit first."""

    def __init__(self, data: bytes):
        self.value, self.size, self.pos = int.from_bytes(data, "big"), 8 * len(data), 0

    def u(self, n: int) -> int:
        if self.pos + n > self.size:
            raise ValueError("parameter set truncated")
        self.pos += n
        return (self.value >> (self.size - self.pos)) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("Exp-Golomb code longer than 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)


class _BitWriter:
    """Writes u(n) and ue(v) fields; ``bytes()`` pads with zero bits."""

    def __init__(self):
        self.bits: list[str] = []

    def u(self, value: int, n: int) -> None:
        self.bits.append(format(value, f"0{n}b") if n else "")

    def ue(self, value: int) -> None:
        code = value + 1
        self.u(code, 2 * code.bit_length() - 1)

    def __bytes__(self) -> bytes:
        bits = "".join(self.bits)
        bits += "0" * (-len(bits) % 8)
        return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def _ue7(value: int) -> bytes:
    """BPG's ue7: 7 bits a byte, most significant group first, high bit = more follow."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _read_ue7(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position); SourceDecodeError on a non-shortest or overlong code."""
    value = 0
    for i in range(5):
        if pos + i >= len(data):
            raise SourceDecodeError("BPG header truncated")
        byte = data[pos + i]
        if i == 0 and byte == 0x80:
            raise SourceDecodeError("BPG header: ue7 code is not the shortest")
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos + i + 1
    raise SourceDecodeError("BPG header: ue7 code longer than 32 bits")


def _rbsp(nal: bytes) -> bytes:
    """NAL unit payload without its 2-byte header and emulation-prevention bytes."""
    out, zeros = bytearray(), 0
    for byte in nal[2:]:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


# -- HEVC SPS -> BPG's compact header ----------------------------------------------
def _skip_vui(r: _BitReader) -> None:
    """Skip vui_parameters() (H.265 E.2.1); HRD parameters are not expected from x265."""
    if r.u(1) and r.u(8) == 255:          # aspect_ratio_info_present, aspect_ratio_idc
        r.u(32)                            # sar_width, sar_height
    if r.u(1):                             # overscan_info_present
        r.u(1)
    if r.u(1):                             # video_signal_type_present
        r.u(4)
        if r.u(1):                         # colour_description_present
            r.u(24)
    if r.u(1):                             # chroma_loc_info_present
        r.ue(), r.ue()
    r.u(3)                                 # neutral_chroma, field_seq, frame_field_info
    if r.u(1):                             # default_display_window
        for _ in range(4):
            r.ue()
    if r.u(1):                             # vui_timing_info_present
        r.u(64)
        if r.u(1):                         # poc_proportional_to_timing
            r.ue()
        if r.u(1):
            raise ValueError("SPS carries HRD parameters, which this parser does not read")
    if r.u(1):                             # bitstream_restriction
        r.u(3)
        for _ in range(5):
            r.ue()


def _bpg_hevc_header(sps: bytes) -> bytes:
    """BPG's hevc_header (length + compact SPS fields) for an x265 SPS NAL unit."""
    r, w = _BitReader(_rbsp(sps)), _BitWriter()
    r.u(4)                                         # sps_video_parameter_set_id
    if r.u(3):                                     # sps_max_sub_layers_minus1
        raise ValueError("SPS with temporal sub-layers")
    r.u(1 + 96)                                    # temporal_id_nesting, profile_tier_level(1, 0)
    r.ue()                                         # sps_seq_parameter_set_id
    if r.ue() == 3:                                # chroma_format_idc
        r.u(1)
    r.ue(), r.ue()                                 # coded width, height
    if r.u(1):                                     # conformance_window
        for _ in range(4):
            r.ue()
    r.ue(), r.ue(), r.ue()                         # bit depths, log2_max_pic_order_cnt_lsb_minus4
    r.u(1)
    r.ue(), r.ue(), r.ue()                         # sub-layer ordering info (one layer)
    for _ in range(4):                             # coding block and transform block sizes
        w.ue(r.ue())
    r.ue()                                         # max_transform_hierarchy_depth_inter
    w.ue(r.ue())                                   # max_transform_hierarchy_depth_intra
    if r.u(1):
        raise ValueError("SPS with scaling lists (BPG requires none)")
    r.u(1)                                         # amp_enabled
    w.u(r.u(1), 1)                                 # sample_adaptive_offset_enabled
    pcm = r.u(1)
    w.u(pcm, 1)
    if pcm:
        w.u(r.u(8), 8)
        w.ue(r.ue()), w.ue(r.ue())
        w.u(r.u(1), 1)
    for i in range(r.ue()):                        # short-term reference picture sets
        if i:
            raise ValueError("SPS with more than one short-term reference picture set")
        for _ in range(r.ue() + r.ue()):
            r.ue(), r.u(1)
    if r.u(1):
        raise ValueError("SPS with long-term reference pictures")
    r.u(1)                                         # sps_temporal_mvp_enabled
    w.u(r.u(1), 1)                                 # strong_intra_smoothing_enabled
    if r.u(1):
        _skip_vui(r)
    extension = r.u(1)
    w.u(extension, 1)
    if extension:
        range_ext, other = r.u(1), r.u(7)
        w.u(range_ext, 1), w.u(other, 7)
        if range_ext:
            w.u(r.u(9), 9)
    left = r.size - r.pos
    if left < 1 or r.u(left) != 1 << (left - 1):
        raise ValueError("SPS not fully parsed (unexpected syntax before its trailing bits)")
    fields = bytes(w)
    return _ue7(len(fields)) + fields


# -- HEIF (ISOBMFF) --------------------------------------------------------------
FULL_BOXES = {b"meta", b"iloc"}  # boxes whose payload starts with version and flags


def _boxes(data: bytes, lo: int, hi: int):
    """(type, box start, payload start, box end) of each box in ``data[lo:hi]``."""
    while lo < hi:
        size, kind = struct.unpack_from(">I4s", data, lo)
        head = 8
        if size == 1:
            size, head = struct.unpack_from(">Q", data, lo + 8)[0], 16
        elif size == 0:
            size = hi - lo
        if size < head or lo + size > hi:
            raise ValueError(f"malformed box {kind!r}")
        yield kind, lo, lo + head + (4 if kind in FULL_BOXES else 0), lo + size
        lo += size


def _box(data: bytes, *path: bytes) -> tuple[int, int, int]:
    """(box start, payload start, box end) of the box at ``path`` (e.g. meta, iloc)."""
    lo, hi = 0, len(data)
    for name in path:
        found = next((b for b in _boxes(data, lo, hi) if b[0] == name), None)
        if found is None:
            raise ValueError(f"HEIF file without a {b'/'.join(path)!r} box")
        start, lo, hi = found[1:]
    return start, lo, hi


def _hvcc_nal_units(hvcc: bytes) -> dict[int, bytes]:
    """The parameter-set NAL units of an hvcC box payload, by NAL unit type."""
    if hvcc[21] & 3 != 3:
        raise ValueError("hvcC NAL length size is not 4 bytes")
    units, pos = {}, 23
    for _ in range(hvcc[22]):
        kind, count = hvcc[pos] & 0x3F, struct.unpack_from(">H", hvcc, pos + 1)[0]
        pos += 3
        for _ in range(count):
            length = struct.unpack_from(">H", hvcc, pos)[0]
            if kind in units:
                raise ValueError(f"hvcC holds two NAL units of type {kind}")
            units[kind] = hvcc[pos + 2:pos + 2 + length]
            pos += 2 + length
    return units


def _length_prefixed(data: bytes) -> list[bytes]:
    """NAL units stored with 4-byte length prefixes (HEIF item data)."""
    units, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        if length == 0 or pos + 4 + length > len(data):
            raise ValueError("malformed HEIF item data")
        units.append(data[pos + 4:pos + 4 + length])
        pos += 4 + length
    return units


def _iloc_length_field(data: bytes, lo: int) -> tuple[int, int, int]:
    """(data offset, position of the extent_length field, its size) of a one-item iloc."""
    version, sizes = data[lo - 4], data[lo] << 8 | data[lo + 1]
    offset_size, length_size, base_size, index_size = sizes >> 12, sizes >> 8 & 15, sizes >> 4 & 15, sizes & 15
    count_size, pos = (4 if version == 2 else 2), lo + 2
    if int.from_bytes(data[pos:pos + count_size], "big") != 1:
        raise ValueError("template HEIF file with more than one item")
    pos += 2 * count_size + (2 if version else 0) + 2   # count, item_ID, construction_method, data_ref
    base = int.from_bytes(data[pos:pos + base_size], "big")
    pos += base_size
    if struct.unpack_from(">H", data, pos)[0] != 1:
        raise ValueError("template HEIF item with more than one extent")
    pos += 2 + (index_size if version else 0)
    offset = base + int.from_bytes(data[pos:pos + offset_size], "big")
    return offset, pos + offset_size, length_size


def _heif_encode(pixels: np.ndarray, qp: int) -> bytes:
    """x265 at constant ``qp`` on ``uint8 [H, W, 1 or 3]`` pixels, as a HEIF file."""
    mode = "L" if pixels.shape[2] == 1 else "RGB"
    heif = pillow_heif.from_bytes(mode, (pixels.shape[1], pixels.shape[0]), pixels.tobytes())
    out = io.BytesIO()
    # every option that pillow-heif could otherwise take from its process-wide defaults
    heif.save(out, enc_params={**X265_PARAMS, "x265:qp": str(qp)}, chroma=420, tile_size=0, quality=50,
              save_nclx_profile=True, thumbnails=[], exif=None, xmp=None)
    return out.getvalue()


@dataclass(frozen=True)
class _Template:
    """What a receiver knows for one (coded height, coded width, channels)."""

    prefix: bytes        # the template HEIF file up to its mdat box
    length_at: int       # position of the item's extent_length field in ``prefix``
    length_size: int     # and its size in bytes
    hvcc: bytes          # x265's VPS, SPS and PPS, as an hvcC payload
    pps: bytes
    hevc_header: bytes   # BPG's compact SPS fields


@functools.lru_cache(maxsize=32)
def _template(height: int, width: int, channels: int) -> _Template:
    data = _heif_encode(np.zeros((height, width, channels), np.uint8), 51)
    mdat_start, mdat_lo, mdat_hi = _box(data, b"mdat")
    _, meta_lo, meta_hi = _box(data, b"meta")
    _, iloc_lo, _ = _box(data, b"meta", b"iloc")
    offset, length_at, length_size = _iloc_length_field(data, iloc_lo)
    if (mdat_hi != len(data) or mdat_lo - mdat_start != 8 or meta_hi > mdat_start or offset != mdat_lo
            or int.from_bytes(data[length_at:length_at + length_size], "big") != mdat_hi - mdat_lo):
        raise RuntimeError("libheif wrote a HEIF layout this codec does not know how to refill")
    hvcc = _hvcc(data)
    units = _hvcc_nal_units(hvcc)
    return _Template(data[:mdat_start], length_at, length_size, hvcc, units[34], _bpg_hevc_header(units[33]))


def _hvcc(data: bytes) -> bytes:
    _, lo, hi = _box(data, b"meta", b"iprp", b"ipco", b"hvcC")
    return data[lo:hi]


def _heif_file(template: _Template, slices: list[bytes]) -> bytes:
    """The template's HEIF file holding ``slices`` as its picture's coded data."""
    item = b"".join(len(nal).to_bytes(4, "big") + nal for nal in slices)
    prefix = bytearray(template.prefix)
    prefix[template.length_at:template.length_at + template.length_size] = \
        len(item).to_bytes(template.length_size, "big")
    return bytes(prefix) + struct.pack(">I4s", 8 + len(item), b"mdat") + item


def _format_bytes(channels: int) -> bytes:
    """BPG's two format bytes: grey or 4:2:0, 8 bits, YCbCr full range, no alpha/extension/animation."""
    return bytes([0 if channels == 1 else 1 << 5, 0])


def _is_intra_slice(nal: bytes) -> bool:
    """A NAL unit whose 2-byte header is an intra (IRAP) slice's: forbidden bit 0, layer 0, temporal id 0."""
    return len(nal) > 2 and (nal[0] >> 1) in IRAP_NAL_TYPES and nal[0] & 1 == 0 and nal[1] == 1


class BPGCodec(SourceCodec):
    """HEVC intra (x265) images counted as BPG files; quality = QP (lower is better).

    Args:
        qps: the QP grid of the ladder (HEVC QPs 0..51; all of them by default).
    """

    name = "bpg"

    def __init__(self, qps=QPS):
        self.qps = tuple(sorted({int(q) for q in qps}, reverse=True))
        if not self.qps or not all(0 <= q <= 51 for q in self.qps):
            raise ValueError(f"qps must be HEVC QPs in 0..51, got {qps!r}")

    def ladder(self, item) -> list[Encoded]:
        pixels = image_to_uint8(item)
        height, width, channels = pixels.shape
        coded = np.pad(pixels, ((0, max(0, MIN_SIDE - height)), (0, max(0, MIN_SIDE - width)), (0, 0)),
                       mode="edge")
        template = _template(*coded.shape)
        meta = {"shape": (channels, height, width)}
        candidates = [Encoded(payload, 8 * len(payload), float(qp), dict(meta))
                      for qp in self.qps
                      for payload in [self._payload(coded, qp, template, meta["shape"])]]
        return make_ladder(candidates)

    @staticmethod
    def _payload(coded: np.ndarray, qp: int, template: _Template, shape: tuple) -> bytes:
        data = _heif_encode(coded, qp)
        if _hvcc(data) != template.hvcc:
            raise RuntimeError(f"x265 wrote parameter sets that differ from the template's at QP {qp}: "
                               "the receiver could not rebuild them")
        _, lo, hi = _box(data, b"mdat")
        body = template.hevc_header + template.pps + b"".join(START_CODE + nal
                                                              for nal in _length_prefixed(data[lo:hi]))
        channels, height, width = shape
        head = MAGIC + _format_bytes(channels) + _ue7(width) + _ue7(height)
        return head + _ue7(len(body)) + body

    def decode(self, payload: bytes, meta: dict) -> np.ndarray:
        channels, height, width = check_image_meta(meta)
        template = _template(max(height, MIN_SIDE), max(width, MIN_SIDE), channels)
        slices = self._slices(bytes(payload), channels, height, width, template)
        try:
            heif = pillow_heif.open_heif(io.BytesIO(_heif_file(template, slices)), convert_hdr_to_8bit=True)
            pixels = np.asarray(heif[0])
        except (ValueError, EOFError, SyntaxError, RuntimeError, OSError) as err:
            raise SourceDecodeError(f"HEVC picture does not decode: {err}") from err
        pixels = pixels.reshape(pixels.shape[0], pixels.shape[1], -1)
        if pixels.shape[0] < height or pixels.shape[1] < width or pixels.shape[2] != channels:
            raise SourceDecodeError(f"decoded picture {pixels.shape} does not match the image {meta['shape']}")
        return uint8_to_image(pixels[:height, :width])

    @staticmethod
    def _slices(payload: bytes, channels: int, height: int, width: int, template: _Template) -> list[bytes]:
        """The slice NAL units of a BPG payload whose header matches what the receiver expects."""
        if payload[:4] != MAGIC or len(payload) < 6:
            raise SourceDecodeError("not a BPG payload (bad magic)")
        if payload[4:6] != _format_bytes(channels):
            raise SourceDecodeError(f"BPG format bytes {payload[4:6].hex()} do not match a "
                                    f"{channels}-channel 8-bit picture")
        got_width, pos = _read_ue7(payload, 6)
        got_height, pos = _read_ue7(payload, pos)
        length, pos = _read_ue7(payload, pos)
        if (got_width, got_height) != (width, height):
            raise SourceDecodeError(f"BPG size {got_width}x{got_height}, expected {width}x{height}")
        if pos + length != len(payload):
            raise SourceDecodeError(f"BPG picture data length {length}, but {len(payload) - pos} bytes follow")
        body = payload[pos:]
        head = template.hevc_header + template.pps
        if body[:len(head)] != head:
            raise SourceDecodeError("BPG HEVC header or PPS differs from what x265 writes for this image size")
        units = body[len(head):].split(START_CODE)
        if units[0] or len(units) < 2 or not all(_is_intra_slice(nal) for nal in units[1:]):
            raise SourceDecodeError("BPG picture data is not a sequence of intra slice NAL units")
        return units[1:]
