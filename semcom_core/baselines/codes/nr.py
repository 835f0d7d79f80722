"""5G NR LDPC codes (3GPP TS 38.212, with rate matching) through Sionna."""

from __future__ import annotations

import numpy as np

from .base import ChannelCode, DecodeResult, check_bits, sanitize_llr

__all__ = ["NRLDPC"]


class NRLDPC(ChannelCode):
    """Sionna's ``LDPC5GEncoder`` / ``LDPC5GDecoder`` (flooding BP) behind :class:`ChannelCode`.

    Args:
        k, n: information and coded bits; any pair Sionna accepts (it picks the base graph
            and does the puncturing and shortening).
        max_iter: BP iterations (Sionna runs them all: no early stopping).
        cn_update: Sionna's check-node rule, e.g. "boxplus-phi" (exact) or "minsum".

    ``ok`` means the hard decisions of the whole mother codeword the decoder worked on
    (information, filler and parity bits) satisfy every parity check.
    """

    name = "nr-ldpc"

    def __init__(self, k: int, n: int, max_iter: int = 20, cn_update: str = "boxplus-phi"):
        from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder

        try:
            self._encoder = LDPC5GEncoder(int(k), int(n))
        except (ValueError, AssertionError) as err:
            raise ValueError(f"Sionna's 5G NR LDPC does not support k={k}, n={n}: {err}") from None
        self._k, self._n, self.max_iter = int(k), int(n), int(max_iter)
        self._last_estimate = None
        self._decoder = LDPC5GDecoder(self._encoder, cn_update=cn_update, num_iter=self.max_iter, hard_out=True,
                                      return_infobits=True, v2c_callbacks=[self._keep_estimate])
        self._pcm = self._decoder.pcm.tocsr()

    def _keep_estimate(self, msg_vn, it, x_hat):
        """Sionna callback after each variable-node update: remember the codeword estimate."""
        self._last_estimate = x_hat
        return msg_vn

    def encode(self, bits: np.ndarray) -> np.ndarray:
        import torch

        u = check_bits(bits, self.k)
        with torch.no_grad():
            c = self._encoder(torch.from_numpy(u.reshape(-1, self.k).astype(np.float32)))
        return c.numpy().astype(np.uint8).reshape(*u.shape[:-1], self.n)

    def decode(self, llr: np.ndarray) -> DecodeResult:
        import torch

        arr, bad = sanitize_llr(llr, self.n)
        lead = arr.shape[:-1]
        flat = arr.reshape(-1, self.n)
        with torch.no_grad():
            u_hat = self._decoder(torch.from_numpy(-flat))          # Sionna takes logits ln P(1)/P(0)
            words = (self._last_estimate <= 0).numpy().astype(np.int32)   # its internal LLRs: ln P(0)/P(1)
        valid = ~((self._pcm @ words.T) % 2).any(axis=0)
        ok = valid & ~bad.reshape(-1)
        bits = u_hat.numpy().astype(np.uint8)
        return DecodeResult(bits=bits.reshape(*lead, self.k), ok=ok.reshape(lead),
                            iterations=np.full(lead, self.max_iter, np.int32))
