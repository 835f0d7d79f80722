"""The learned transceiver: semantic encoder, shared symbol codec, channel, semantic decoder."""

from __future__ import annotations

import torch
from torch import nn

from ..models import build_model
from ..symbols import SymbolCodec


class Transceiver(nn.Module):
    """encoder -> SymbolCodec (analog, or q-bit levels on a square constellation) -> channel -> decoder.

    The same codec serves training and deployment (GNU Radio blocks), so what the decoder learns
    to undo is exactly what the radio sends.
    """

    def __init__(self, encoder_spec: dict, decoder_spec: dict, k: int, q: int | None = None):
        super().__init__()
        self.encoder_spec, self.decoder_spec = dict(encoder_spec), dict(decoder_spec)
        self.encoder = build_model(encoder_spec)
        self.decoder = build_model(decoder_spec)
        self.k, self.q = k, q
        self.codec = SymbolCodec(q=q)

    def forward(self, x: torch.Tensor, channel: nn.Module, snr_db) -> torch.Tensor:
        s, side = self.codec.to_symbols(self.encoder(x))
        return self.decoder(self.codec.from_symbols(channel(s, snr_db), side))
