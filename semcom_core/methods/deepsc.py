"""DeepSC (as the SemCC paper uses it): observation loss plus the task loss of the whole pre-trained
downstream classifier on the reconstruction, L = alpha2 * MSE + (1 - alpha2) * CE (eq. 11)."""

from __future__ import annotations


from .base import JSCCMethod, resolve_alpha


class DeepSC(JSCCMethod):
    method_name = "deepsc"
    needs_downstream = True

    def training_loss(self, x, labels):
        alpha2 = resolve_alpha(self.loss_cfg.get("alpha2", "ratio"), self.hparams.ratio)
        x_hat = self.transceiver(x, self.channel, self.sample_snr(x.shape[0]))
        mse, task = self.reconstruction_loss(x_hat, x), self.task_loss(x_hat, labels)
        return alpha2 * mse + (1 - alpha2) * task, {"rec": mse, "task": task}
