"""MIJSCC: JSCC trained with MSE minus Jensen-Shannon mutual information (the MIJSCC paper, eq. 18).

The encoder (Table I) maps an image to z; z goes through the shared symbol codec (analog or q-bit
quantised with straight-through gradients) and the channel at an SNR drawn per sample from
``train_snr_db`` ([6, 21] dB in the paper) to the decoder. Two discriminators (Table II) estimate
the global MI between the image and z (eq. 15) and the local MI between the encoder's feature map
and z (eq. 17), with fake pairs made by shuffling z over the batch (Algorithm 1). Encoder, decoder
and discriminators minimise MSE - lam (mu1 global + mu2 local) together: all of them maximise the
MI estimate. No label is used: classification comes afterwards, from the received z.
"""

from __future__ import annotations

import itertools

from ..losses.mutual_information import global_mi, local_mi, mijscc_loss
from ..models.mijscc import GlobalDiscriminator, LocalDiscriminator
from .base import JSCCMethod

__all__ = ["MIJSCC"]


class MIJSCC(JSCCMethod):
    method_name = "mijscc"
    architecture = "mijscc"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        h, enc = self.hparams, self.transceiver.encoder
        hidden = int(self.loss_cfg.get("disc_hidden", 512))
        self.global_disc = GlobalDiscriminator(h.image_shape, self.transceiver.k, h.width, hidden)
        self.local_disc = LocalDiscriminator(enc.feature_shape[0], self.transceiver.k, hidden)

    def trainable_parameters(self):
        return itertools.chain(self.transceiver.parameters(), self.global_disc.parameters(),
                               self.local_disc.parameters())

    def training_loss(self, x, labels):
        t = self.transceiver
        z, features = t.encoder(x, return_features=True)
        s, side = t.codec.to_symbols(z)
        x_hat = t.decoder(t.codec.from_symbols(self.channel(s, self.sample_snr(x.shape[0])), side))
        cfg = self.loss_cfg
        total, parts = mijscc_loss(x, x_hat, global_mi(self.global_disc, x, z), local_mi(self.local_disc, features, z),
                                   float(cfg.get("lam", 0.01)), float(cfg.get("mu1", 0.01)), float(cfg.get("mu2", 1.0)))
        return total, parts
