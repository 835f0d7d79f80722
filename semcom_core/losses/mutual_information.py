"""Mutual-information terms of the MIJSCC paper: the Jensen-Shannon MI estimator (eq. 13), the global (eq. 15)
and local (eq. 17) MI, and the training loss (eq. 18).

Fake samples (Algorithm 1, step 5): the batch is shuffled with a random derangement, so every latent z_i is
scored against another sample's image (or feature map), a draw from p(s)p(z) rather than p(s, z).

Bounds of eq. 13: both terms are <= 0, so the estimate is always < 0 (tending to 0 as the real scores go to
+inf and the fake ones to -inf). With the optimal discriminator T* = log p(s,z) / p(s)p(z) it equals
2 JSD(p(s,z) || p(s)p(z)) - 2 log 2, between -2 log 2 (independent S, Z) and 0; an uninformed
discriminator (T = 0) scores exactly -2 log 2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def derangement(n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """A permutation of 0..n-1 with no fixed point, uniform over all derangements (rejection sampling)."""
    if n < 2:
        raise ValueError(f"a derangement needs at least 2 elements, got {n}")
    ids = torch.arange(n)
    while True:  # P(no fixed point) -> 1/e, so ~2.7 draws on average
        perm = torch.randperm(n, generator=generator)
        if not (perm == ids).any():
            return perm.to(device) if device is not None else perm


def shuffle_pairs(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Rows of z (images, feature maps or latents; batch first) reordered by a random derangement: row i of the
    result is row perm[i] != i, so pairing it with sample i's partner gives a fake (marginal) pair
    (Algorithm 1, step 5)."""
    if z.ndim < 1:
        raise ValueError("shuffle_pairs needs a batch dimension")
    return z[derangement(z.shape[0], generator, z.device)]


def js_mi(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Eq. 13: I^(JS) = E_P[-softplus(-T(s, z))] - E_Q[softplus(T(s', z))], P the joint and Q the product of
    marginals; means over every element of the score tensors (samples, and positions for eq. 17)."""
    return (-F.softplus(-real_scores)).mean() - F.softplus(fake_scores).mean()


def global_mi(disc, x: torch.Tensor, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Eq. 15: Omega^global = I^(JS)(S; E_alpha(S)), the discriminator disc(x, z) -> [B] scoring real pairs
    (x_i, z_i) against fake ones (x_perm[i], z_i)."""
    return js_mi(disc(x, z), disc(shuffle_pairs(x, generator), z))


def local_mi(disc, features: torch.Tensor, z: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Eq. 17: Omega^local = (1/N^2) sum_i I^(JS)(F^(i); Z), disc(f, z) -> [B, N, N] scoring every feature vector
    of the image's own map against z, and of another sample's map (the fake f' = E_omega(s')) against z."""
    return js_mi(disc(features, z), disc(shuffle_pairs(features, generator), z))


def mijscc_loss(x: torch.Tensor, x_hat: torch.Tensor, mi_global: torch.Tensor, mi_local: torch.Tensor,
                lam: float, mu1: float = 0.01, mu2: float = 1.0):
    """Eq. 18: L = MSE(s, s_hat) - lambda (mu1 Omega^global + mu2 Omega^local), minimised over the encoder,
    decoder and both discriminators (all of which maximise the MI estimate, eq. 14).

    Returns (total, parts), parts = {"mse", "mi_global", "mi_local"} as detached tensors.
    """
    if x.shape != x_hat.shape:
        raise ValueError(f"images and reconstructions differ in shape: {tuple(x.shape)} vs {tuple(x_hat.shape)}")
    mse = F.mse_loss(x_hat, x)
    total = mse - lam * (mu1 * mi_global + mu2 * mi_local)
    parts = {"mse": mse.detach(), "mi_global": mi_global.detach(), "mi_local": mi_local.detach()}
    return total, parts
