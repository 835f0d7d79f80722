"""Text as UTF-8 bytes: lossless, ``bits = 8 * len(payload)``."""

from __future__ import annotations

from .base import Encoded, SourceCodec, SourceDecodeError

__all__ = ["UTF8Codec"]


class UTF8Codec(SourceCodec):
    """A ``str`` sent as its UTF-8 bytes; one rung (quality 1.0, lossless).

    The receiver learns the length from the link's framing, so nothing is
    agreed in advance (``meta`` is empty). Bytes that are not valid UTF-8
    raise SourceDecodeError; a truncation at a character boundary cannot be
    told from a shorter text.
    """

    name = "utf8"

    def ladder(self, item) -> list[Encoded]:
        if not isinstance(item, str):
            raise ValueError(f"a text item must be a str, got {type(item).__name__}")
        try:
            payload = item.encode("utf-8")
        except UnicodeEncodeError as err:  # lone surrogates
            raise ValueError(f"text is not encodable as UTF-8: {err}") from err
        return [Encoded(payload, 8 * len(payload), 1.0, {})]

    def decode(self, payload: bytes, meta: dict) -> str:
        try:
            return bytes(payload).decode("utf-8")
        except UnicodeDecodeError as err:
            raise SourceDecodeError(f"payload is not valid UTF-8: {err}") from err
