"""The learned transceiver: semantic encoder, shared symbol codec, channel, semantic decoder."""

from __future__ import annotations

import torch
from torch import nn

from ..models import build_model, jscc_geometry
from ..symbols import SymbolCodec


def transceiver_specs(image_shape, ratio: float, width: int, arch: str = "jscc") -> tuple[dict, dict, int]:
    """Encoder and decoder specs for an image shape and k/n: ``arch`` "jscc" (the SemCC paper's
    Fig. 1 networks) or "mijscc" (the MIJSCC paper's Table I)."""
    k = jscc_geometry(image_shape, ratio)["k"]
    common = {"image_shape": list(image_shape), "k": k, "width": width}
    return {"arch": f"{arch}_encoder", **common}, {"arch": f"{arch}_decoder", **common}, k


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

    def transmit_receive(self, x: torch.Tensor, channel: nn.Module, snr_db) -> tuple[torch.Tensor, torch.Tensor]:
        """(transmitted symbols s [B, k] complex, reconstruction x_hat); SemRE needs both."""
        s, side = self.codec.to_symbols(self.encoder(x))
        return s, self.decoder(self.codec.from_symbols(channel(s, snr_db), side))

    def forward(self, x: torch.Tensor, channel: nn.Module, snr_db) -> torch.Tensor:
        return self.transmit_receive(x, channel, snr_db)[1]
