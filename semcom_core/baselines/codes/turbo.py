"""LTE turbo code (3GPP TS 36.212: rate 1/3, terminated, QPP interleaver) with a CRC, through Sionna."""

from __future__ import annotations

import numpy as np

from .base import ChannelCode, DecodeResult, check_bits, sanitize_llr

__all__ = ["TurboCode"]

_MAX_BLOCK = 6144   # the largest LTE turbo interleaver
# Sionna's BCJR overflows in float32 for |LLR| >= ~100 and then returns all zeros, which CRC24A
# accepts; LLRs are clipped well below that (|LLR| = 30 is already a near-certain bit).
_LLR_CLIP = 30.0


class TurboCode(ChannelCode):
    """Sionna's ``TurboEncoder`` / ``TurboDecoder`` plus a CRC that decides ``ok``.

    Args:
        k: information bits before the CRC; the turbo code sees ``k + crc_bits``.
        max_iter: turbo iterations (each runs both BCJR decoders; no early stopping).
        crc: one of Sionna's CRCs ("CRC24A", "CRC24B", "CRC16", ...).
        algorithm: BCJR variant, "map", "log" or "maxlog".

    ``n = 3 (k + crc_bits) + 12`` (the 12 termination bits of the two encoders).
    """

    name = "turbo"

    def __init__(self, k: int, max_iter: int = 6, crc: str = "CRC24A", algorithm: str = "map"):
        from sionna.phy.fec.crc import CRCDecoder, CRCEncoder
        from sionna.phy.fec.turbo import TurboDecoder, TurboEncoder

        self._crc_encoder = CRCEncoder(crc, k=int(k))
        self._crc_decoder = CRCDecoder(self._crc_encoder)
        block = int(k) + self._crc_encoder.crc_length
        if k < 1 or block > _MAX_BLOCK:
            raise ValueError(f"turbo code needs 1 <= k and k + CRC <= {_MAX_BLOCK}, got k={k}")
        self._encoder = TurboEncoder(constraint_length=4, rate=1 / 3, terminate=True, interleaver_type="3GPP")
        self._decoder = TurboDecoder(self._encoder, num_iter=int(max_iter), hard_out=True, algorithm=algorithm)
        self._k, self._n, self.max_iter = int(k), 3 * block + 12, int(max_iter)

    def encode(self, bits: np.ndarray) -> np.ndarray:
        import torch

        u = check_bits(bits, self.k)
        with torch.no_grad():
            c = self._encoder(self._crc_encoder(torch.from_numpy(u.reshape(-1, self.k).astype(np.float32))))
        return c.numpy().astype(np.uint8).reshape(*u.shape[:-1], self.n)

    def decode(self, llr: np.ndarray) -> DecodeResult:
        import torch

        arr, bad = sanitize_llr(llr, self.n)
        arr = np.clip(arr, -_LLR_CLIP, _LLR_CLIP)
        lead = arr.shape[:-1]
        with torch.no_grad():
            u_crc = self._decoder(torch.from_numpy(-arr.reshape(-1, self.n)))   # Sionna takes logits ln P(1)/P(0)
            u_hat, crc_ok = self._crc_decoder(u_crc)
        ok = crc_ok.numpy().reshape(-1) & ~bad.reshape(-1)
        return DecodeResult(bits=u_hat.numpy().astype(np.uint8).reshape(*lead, self.k), ok=ok.reshape(lead),
                            iterations=np.full(lead, self.max_iter, np.int32))
