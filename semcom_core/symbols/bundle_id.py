"""A 16-bit identifier of a model bundle, carried in over-the-air headers so that a receiver drops
bursts made by another model instead of decoding garbage."""

from __future__ import annotations

import hashlib
import json

__all__ = ["bundle_id"]

_MAX16 = (1 << 16) - 1


def bundle_id(card: dict) -> int:
    """A 16-bit identifier of a bundle, from its card (method, architecture, k, q, dataset, ...).

    Two bundles whose cards differ get different ids with probability 1 - 2^-16; the value is never 0
    (0 means "unspecified" in the header)."""
    text = json.dumps(card, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:2], "big") % _MAX16 + 1
