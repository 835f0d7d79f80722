"""The semantic link, written once: encoder -> [mask] -> quantise/map -> (channel) -> demap/dequantise -> decoder.

Training (every method's loss), bundles, evaluation, the benchmarks and every GNU Radio block go through
:class:`Transceiver`; nothing else turns latents into symbols or back.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..channels.base import noise_variance
from ..models import build_model, jscc_geometry
from ..symbols import SideInfo, SymbolCodec
from ..symbols.codec import prefix_mask

__all__ = ["Sent", "Transceiver", "symbol_powers", "transceiver_specs"]


def transceiver_specs(image_shape, ratio: float, width: int, arch: str = "jscc") -> tuple[dict, dict, int]:
    """Encoder and decoder specs for an image shape and k/n: ``arch`` "jscc" (the SemCC paper's
    Fig. 1 networks) or "mijscc" (the MIJSCC paper's Table I)."""
    k = jscc_geometry(image_shape, ratio)["k"]
    common = {"image_shape": list(image_shape), "k": k, "width": width}
    return {"arch": f"{arch}_encoder", **common}, {"arch": f"{arch}_decoder", **common}, k


@dataclass
class Sent:
    """What the transmitter put on the channel for one batch.

    Attributes:
        z: the latent as sent, after the A-MIJSCC mask, real ``[B, 2k]``.
        symbols: complex ``[B, k]``, unit average power over the symbols sent; those past a row's
            ``side.end`` are zero.
        side: the batched :class:`SideInfo` the receiver needs.
    """

    z: torch.Tensor
    symbols: torch.Tensor
    side: SideInfo


class Transceiver(nn.Module):
    """Encoder, optional noise-adaptive mask (A-MIJSCC), the shared :class:`SymbolCodec`, decoder.

    The same object serves training and deployment (GNU Radio blocks), so what the decoder learns to
    undo is exactly what the radio sends.

    Args:
        encoder_spec, decoder_spec: network specs (``models.build_model``).
        k: complex channel symbols per image.
        q: quantiser bits (None: analog symbols).
        mask: A-MIJSCC's :class:`~semcom_core.models.adaptive_mask.AdaptiveMask` over the k symbols, or None.
        symbol_power: the raw power of the quantised symbols (:class:`SymbolCodec`), as measured by
            :func:`symbol_powers`; None until training or a bundle sets it.
    """

    def __init__(self, encoder_spec: dict, decoder_spec: dict, k: int, q: int | None = None,
                 mask: nn.Module | None = None, symbol_power: float | None = None):
        super().__init__()
        self.encoder_spec, self.decoder_spec = dict(encoder_spec), dict(decoder_spec)
        self.encoder = build_model(encoder_spec)
        self.decoder = build_model(decoder_spec)
        self.k, self.q = int(k), q
        self.codec = SymbolCodec(q=q, power=symbol_power)
        self.mask = mask

    def with_codec(self, q: int | None, symbol_power: float | None = None) -> Transceiver:
        """The same networks (shared, not copied) with another symbol codec: analog (None) or q bits, whose
        quantised symbols have raw power ``symbol_power``."""
        if q == self.q and symbol_power is None:
            return self
        other = Transceiver.__new__(Transceiver)
        nn.Module.__init__(other)
        other.encoder_spec, other.decoder_spec = self.encoder_spec, self.decoder_spec
        other.encoder, other.decoder, other.mask = self.encoder, self.decoder, self.mask
        other.k, other.q, other.codec = self.k, q, SymbolCodec(q=q, power=symbol_power)
        other.train(self.training)
        return other

    # --- the two halves ----------------------------------------------------------------------------------
    def send(self, z: torch.Tensor, noise_var=None, adaptive: bool = True) -> Sent:
        """Latent ``[B, 2k]`` -> :class:`Sent`. With a mask (and ``adaptive``), ``noise_var`` (per complex
        symbol: a number or ``[B]``) decides how many leading symbols are sent."""
        end = None
        if self.mask is not None and adaptive:
            if noise_var is None:
                raise ValueError("the noise-adaptive mask needs the channel's noise variance")
            nv = torch.as_tensor(noise_var, dtype=torch.float32, device=z.device).reshape(-1)
            out = self.mask(z, nv.expand(z.shape[0]) if nv.numel() == 1 else nv)
            z, end = out.z, out.end
        active = None if end is None else prefix_mask(end, self.k)
        symbols, side = self.codec.to_symbols(z, active)
        return Sent(z, symbols, side)

    def recover(self, y: torch.Tensor, side: SideInfo | None = None) -> torch.Tensor:
        """Received (equalised) symbols ``[B, k]`` -> latent ``[B, 2k]``; symbols past ``side.end`` are
        zero-filled."""
        return self.codec.from_symbols(y, side)

    def transmit(self, x: torch.Tensor, noise_var=None, adaptive: bool = True) -> Sent:
        return self.send(self.encoder(x), noise_var, adaptive)

    def receive(self, y: torch.Tensor, side: SideInfo | None = None) -> torch.Tensor:
        return self.decoder(self.recover(y, side))

    # --- through a channel ---------------------------------------------------------------------------------
    def send_through(self, z: torch.Tensor, channel: nn.Module, snr_db) -> tuple[Sent, torch.Tensor]:
        """Latent -> (what was sent, latent at the receiver) through ``channel`` at ``snr_db`` (a number or
        ``[B]``); the mask, if any, is told the true noise variance."""
        noise_var = noise_variance(snr_db, z.shape[0], z.device).squeeze(1) if self.mask is not None else None
        sent = self.send(z, noise_var)
        return sent, self.recover(channel(sent.symbols, snr_db), sent.side)

    def transmit_receive(self, x: torch.Tensor, channel: nn.Module, snr_db) -> tuple[torch.Tensor, torch.Tensor]:
        """(transmitted symbols ``[B, k]``, reconstruction); SemRE needs both."""
        sent, z_hat = self.send_through(self.encoder(x), channel, snr_db)
        return sent.symbols, self.decoder(z_hat)

    def forward(self, x: torch.Tensor, channel: nn.Module, snr_db) -> torch.Tensor:
        return self.transmit_receive(x, channel, snr_db)[1]


@torch.no_grad()
def symbol_powers(transceiver: Transceiver, images: torch.Tensor, snr_range=None, bits=range(1, 9),
                  batch_size: int = 500) -> dict[str, list[float]]:
    """The raw mean power of each symbol position of the quantised symbols ``transceiver`` sends for
    ``images``, per bit width (``{"1": [k values], ..., "8": [...]}``): what its codecs scale by to send unit
    power. With an A-MIJSCC mask the positions are measured where they are sent over ``snr_range``
    (lowest, highest training SNR in dB: four points across it), the rest with every symbol sent."""
    from ..units import noise_var_from_snr_db

    was_training = transceiver.training
    transceiver.eval()
    z = torch.cat([transceiver.encoder(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
    noise_vars = [None]
    if transceiver.mask is not None and snr_range is not None:
        lo, hi = float(snr_range[0]), float(snr_range[-1])
        noise_vars = [noise_var_from_snr_db(lo + (hi - lo) * i / 3) for i in range(4)] + [None]
    powers = {}
    for q in bits:
        link = transceiver.with_codec(q, symbol_power=1.0)
        energy, counts = torch.zeros(transceiver.k), torch.zeros(transceiver.k)
        for noise_var in noise_vars:
            sent = link.send(z, noise_var, adaptive=noise_var is not None)
            active = prefix_mask(sent.side.end, transceiver.k).float()
            if noise_var is None and bool(counts.gt(0).any()):
                active = active * counts.eq(0)           # only the positions no SNR of the range sent
            energy += (sent.symbols.abs() ** 2 * active).sum(0)
            counts += active.sum(0)
        powers[str(q)] = [round(float(v), 6) for v in (energy / counts.clamp_min(1)).clamp_min(1e-6)]
    transceiver.train(was_training)
    return powers
