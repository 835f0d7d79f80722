"""A-MIJSCC adaptive channel mask and attention-based semantic enhancement (Sec. IV, Fig. 4, App. B).

Pipeline for a latent ``z`` ``[B, D]`` and a noise variance ``delta^2`` per sample:

1. ``g = N_enc(delta^2)`` (eq. 19): a 4-layer tanh MLP with non-negative weights (App. B), so every
   ``g_j`` is non-negative and non-decreasing in ``delta^2``.
2. ``g~ = U g`` with the unit upper-triangular ``U`` (eq. 20): ``g~_j = sum_{i >= j} g_i``, which is
   non-increasing in ``j``.
3. ``m_j = 1[g~_j > eta]`` (eq. 21): a prefix mask (ones, then zeros); ``z' = m * z`` (eq. 22).
4. ``z* = w * z'`` with attention weights ``w = N_attn(z')`` (eq. 23).

Only the end index of the active prefix (the number of active dimensions) is side information; the
receiver rebuilds the mask from it and zero-fills the rest. ``gamma`` = active dimensions / ``D``.
Because every ``g~_j`` rises with ``delta^2``, a noisier channel activates at least as many
dimensions: a good channel (low noise) gives a smaller ``gamma`` (Sec. IV, Fig. 12(a)).
"""

from __future__ import annotations

from numbers import Integral
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["NoiseEncoder", "cumulative_mask", "channel_mask", "apply_mask", "mask_end_index",
           "mask_from_end_index", "AttentionEnhancement", "AdaptiveMask", "AdaptiveMaskOutput"]


def _check_dim(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_2d(name: str, t: torch.Tensor) -> None:
    if not isinstance(t, torch.Tensor) or t.dim() != 2 or t.shape[1] < 1:
        shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(f"{name} must have shape [B, D] with D >= 1, got {shape}")


class _MonotoneLinear(nn.Module):
    """Linear layer ``x -> |W~| x + |b~|`` (App. B, footnote 3: ``H = abs(H~)``).

    The paper asks for non-negative weights and a "small bias"; we also keep the bias non-negative
    (our choice) so that, for ``delta^2 >= 0``, every pre-activation and hence every tanh output is
    non-negative: both conditions of (B.3) then hold exactly, for any parameter values.
    """

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        # Init (our choice): |W| ~ U(0, 2/n_in) has mean 1/n_in, so a layer roughly averages its
        # inputs and the 4 stacked tanh layers do not saturate for delta^2 of order 1. The raw bias
        # starts small and non-zero (abs has zero gradient exactly at 0).
        self.raw_weight = nn.Parameter(torch.rand(n_out, n_in) * (2.0 / n_in))
        self.raw_bias = nn.Parameter(torch.rand(n_out) * 1e-3)

    @property
    def weight(self) -> torch.Tensor:
        return self.raw_weight.abs()

    @property
    def bias(self) -> torch.Tensor:
        return self.raw_bias.abs()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class NoiseEncoder(nn.Module):
    """``g = N_enc(delta^2) = u_4 o u_3 o u_2 o u_1(delta^2)``, ``u_m(x) = tanh(H_m x + b_m)`` (eqs. 19, B.1-B.2).

    Weights and biases are ``abs`` of raw parameters, so each output ``g_j`` lies in ``[0, 1]`` (``< 1`` up to float rounding) and is
    non-decreasing in ``delta^2`` (B.3) whatever the parameters are.

    Input: noise variance ``[B]`` or ``[B, 1]``, non-negative. Output: ``g`` ``[B, out_dim]``.
    """

    N_LAYERS = 4

    def __init__(self, out_dim: int, hidden: int = 64):
        super().__init__()
        self.out_dim = _check_dim("out_dim", out_dim)
        hidden = _check_dim("hidden", hidden)
        sizes = [1] + [hidden] * (self.N_LAYERS - 1) + [self.out_dim]
        self.layers = nn.ModuleList(_MonotoneLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, noise_var: torch.Tensor) -> torch.Tensor:
        noise_var = torch.as_tensor(noise_var, dtype=torch.float32, device=self.layers[0].raw_weight.device)
        if noise_var.dim() == 1:
            noise_var = noise_var.unsqueeze(1)
        if noise_var.dim() != 2 or noise_var.shape[1] != 1:
            raise ValueError(f"noise variance must have shape [B] or [B, 1], got {tuple(noise_var.shape)}")
        if bool((noise_var < 0).any()) or not bool(torch.isfinite(noise_var).all()):
            raise ValueError("noise variance must be finite and non-negative")
        x = noise_var
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return x


def _upper_triangular(d: int, like: torch.Tensor) -> torch.Tensor:
    """Unit upper-triangular ``U`` of eq. 20: ``U_ij = 1`` if ``i <= j`` else 0."""
    return torch.ones(d, d, dtype=like.dtype, device=like.device).triu()


def cumulative_mask(scores: torch.Tensor) -> torch.Tensor:
    """Cumulative noise feature ``g~`` of eq. 20 from ``g`` (``scores``) ``[B, D]``.

    Eq. 20 is printed as ``g~ = g . U`` (row vector times ``U``), which would give prefix sums
    ``sum_{i <= j} g_i`` -- increasing in ``j``. The text requires ``g~_j >= g~_{j+1}`` and a mask that
    keeps the leading dimensions, so we read it as ``g~ = U g`` (column vector):
    ``g~_j = sum_{i >= j} g_i``, computed as ``g @ U^T``. For ``g >= 0`` this is non-increasing in ``j``.
    """
    _check_2d("scores", scores)
    return scores @ _upper_triangular(scores.shape[1], scores).t()


def channel_mask(cum_scores: torch.Tensor, eta: float, *, temperature: float = 0.5,
                 hard: bool = True) -> torch.Tensor:
    """Channel mask ``m_j = 1[g~_j > eta]`` (eq. 21) from ``g~`` ``[B, D]``.

    The paper does not say how gradients pass the hard threshold (Algorithm 3 trains ``N_enc`` by
    back-propagation). Our choice: a sigmoid relaxation ``s_j = sigmoid((g~_j - eta) / temperature)``.

    * ``hard=True`` (default, also for training): straight-through estimator. The forward value is the
      exact binary mask, made a prefix mask by a running minimum along ``D`` (this only matters if
      ``g~`` is not non-increasing, e.g. negative ``g`` or rounding ties); the backward pass uses the
      gradient of ``s``.
    * ``hard=False``: the relaxed mask ``s`` itself (values in (0, 1), non-increasing when ``g~`` is).
    """
    _check_2d("cum_scores", cum_scores)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    soft = torch.sigmoid((cum_scores - eta) / temperature)
    if not hard:
        return soft
    binary = (cum_scores.detach() > eta).to(cum_scores.dtype).cummin(dim=1).values
    return binary + (soft - soft.detach())


def apply_mask(z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked representation ``z' = m * z`` (eq. 22); both ``[B, D]``."""
    _check_2d("z", z)
    _check_2d("mask", mask)
    if z.shape != mask.shape:
        raise ValueError(f"z and mask shapes differ: {tuple(z.shape)} vs {tuple(mask.shape)}")
    return mask * z


def mask_end_index(mask: torch.Tensor) -> torch.Tensor:
    """Side information: the number of active dimensions of a binary prefix mask ``[B, D]`` -> int64 ``[B]``.

    Raises ``ValueError`` if the mask is not binary or not of the form ones-then-zeros.
    """
    _check_2d("mask", mask)
    m = mask.detach()
    if not bool(((m == 0) | (m == 1)).all()):
        raise ValueError("mask must be binary (0/1)")
    if m.shape[1] > 1 and bool((m[:, 1:] > m[:, :-1]).any()):
        raise ValueError("mask must be a prefix mask (ones followed by zeros)")
    return m.sum(dim=1).long()


def mask_from_end_index(end, dim: int) -> torch.Tensor:
    """Receiver side: rebuild the prefix mask ``[B, dim]`` (float32) from end indices ``[B]`` in ``[0, dim]``.

    The receiver places the received values in the first ``end`` positions and zero-fills the rest,
    which equals multiplying the zero-padded vector by this mask.
    """
    dim = _check_dim("dim", dim)
    end = torch.as_tensor(end)
    if end.dim() != 1:
        raise ValueError(f"end must have shape [B], got {tuple(end.shape)}")
    if end.is_floating_point() or end.is_complex() or end.dtype == torch.bool:
        raise ValueError(f"end must be an integer tensor, got {end.dtype}")
    if bool(((end < 0) | (end > dim)).any()):
        raise ValueError(f"end indices must lie in [0, {dim}]")
    return (torch.arange(dim, device=end.device).unsqueeze(0) < end.unsqueeze(1)).float()


class AttentionEnhancement(nn.Module):
    """Attention-based semantic enhancement ``z* = N_attn(z') = w * z'`` (eq. 23).

    ``N_attn`` is two fully connected layers with non-linearities (Sec. IV). Our choices, as the paper
    does not fix them: ``w = 2 sigmoid(FC2(ReLU(FC1(z'))))`` so ``w`` lies in (0, 2) and can both damp
    and reinforce dimensions; FC2 starts at zero so ``w = 1`` at init (the module starts as the
    identity, convenient when fine-tuning a pre-trained MIJSCC as the paper does). Masked dimensions
    stay exactly zero because ``w`` multiplies ``z'``.
    """

    def __init__(self, dim: int, hidden: int | None = None):
        super().__init__()
        self.dim = _check_dim("dim", dim)
        hidden = _check_dim("hidden", hidden if hidden is not None else max(1, self.dim // 4))
        self.fc1 = nn.Linear(self.dim, hidden)
        self.fc2 = nn.Linear(hidden, self.dim)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def weights(self, z_masked: torch.Tensor) -> torch.Tensor:
        """The attention weights ``w`` ``[B, D]``."""
        _check_2d("z_masked", z_masked)
        if z_masked.shape[1] != self.dim:
            raise ValueError(f"expected D={self.dim}, got {z_masked.shape[1]}")
        return 2.0 * torch.sigmoid(self.fc2(F.relu(self.fc1(z_masked))))

    def forward(self, z_masked: torch.Tensor) -> torch.Tensor:
        return self.weights(z_masked) * z_masked


class AdaptiveMaskOutput(NamedTuple):
    z: torch.Tensor  # [B, D] enhanced masked representation z* (eq. 23), or z' without attention
    end: torch.Tensor  # [B] int64: number of active dimensions (the side information)
    gamma: torch.Tensor  # [B] float: active fraction end / D


class AdaptiveMask(nn.Module):
    """A-MIJSCC channel-mask generator and enhancement (eqs. 19-23, Fig. 4).

    The mask has ``dim`` units; each unit covers ``values_per_unit`` consecutive values of ``z``
    (2 for a complex channel symbol made of the pair ``z[2i], z[2i+1]``, so that whole symbols are
    switched off and the side information counts symbols). The attention works on all
    ``dim * values_per_unit`` values.

    ``forward(z, noise_var)`` with ``z`` ``[B, dim * values_per_unit]`` and the noise variance as a
    scalar, ``[B]`` or ``[B, 1]`` returns ``AdaptiveMaskOutput(z, end, gamma)`` (``end`` in units). The
    forward mask is always the hard prefix mask; gradients reach ``N_enc`` through the straight-through
    relaxation of :func:`channel_mask` (``temperature``) and reach ``z`` through ``m * z``.
    """

    def __init__(self, dim: int, eta: float, hidden: int = 64, *, temperature: float = 0.5,
                 attention: bool = True, attn_hidden: int | None = None, values_per_unit: int = 1):
        super().__init__()
        self.dim = _check_dim("dim", dim)
        self.values_per_unit = _check_dim("values_per_unit", values_per_unit)
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        self.eta = float(eta)
        self.temperature = float(temperature)
        self.noise_encoder = NoiseEncoder(self.dim, hidden)
        width = self.dim * self.values_per_unit
        self.attention = AttentionEnhancement(width, attn_hidden) if attention else None

    def mask(self, noise_var, batch: int | None = None) -> torch.Tensor:
        """The (straight-through) prefix mask ``[B, dim]`` over units for the given noise variances
        (eqs. 19-21)."""
        noise_var = torch.as_tensor(noise_var, dtype=torch.float32,
                                    device=self.noise_encoder.layers[0].raw_weight.device)
        if noise_var.dim() == 0:
            noise_var = noise_var.expand(1 if batch is None else batch)
        g = self.noise_encoder(noise_var)
        return channel_mask(cumulative_mask(g), self.eta, temperature=self.temperature, hard=True)

    def expand(self, mask: torch.Tensor) -> torch.Tensor:
        """A unit mask ``[B, dim]`` spread over the values it covers: ``[B, dim * values_per_unit]``."""
        return mask.repeat_interleave(self.values_per_unit, dim=1)

    def forward(self, z: torch.Tensor, noise_var) -> AdaptiveMaskOutput:
        _check_2d("z", z)
        width = self.dim * self.values_per_unit
        if z.shape[1] != width:
            raise ValueError(f"expected z of shape [B, {width}], got {tuple(z.shape)}")
        m = self.mask(noise_var, batch=z.shape[0])
        if m.shape[0] != z.shape[0]:
            raise ValueError(f"noise variance batch {m.shape[0]} does not match z batch {z.shape[0]}")
        z_out = apply_mask(z, self.expand(m))
        if self.attention is not None:
            z_out = self.attention(z_out)
        end = mask_end_index(m)
        return AdaptiveMaskOutput(z_out, end, end.float() / self.dim)
