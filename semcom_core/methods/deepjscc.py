"""DeepJSCC: the encoder/decoder trained for reconstruction alone (MSE), the semantic-blind baseline."""

from __future__ import annotations

import torch.nn.functional as F

from .base import JSCCMethod
from ..link import transceiver_specs

__all__ = ["DeepJSCC", "transceiver_specs"]


class DeepJSCC(JSCCMethod):
    method_name = "deepjscc"

    def training_loss(self, x, labels):
        x_hat = self.transceiver(x, self.channel, self.sample_snr(x.shape[0]))
        mse = F.mse_loss(x_hat, x)
        return mse, {"mse": mse}
