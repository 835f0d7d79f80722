"""Batched augmentations of multi-modal samples (kornia, on whatever device the batch is on).

Geometry (resize, random crop, flip) is drawn once per sample and applied to every modality alike, so that
the views of one scene stay spatially aligned across devices; photometric changes are per modality:
colour jitter, grey scale and blur for RGB, a random depth scale and sensor-like noise for depth.

Two pipelines from one config: the paper's resize-to-256 then random-crop-224 (``resize: 256, crop: 224``),
or a random resized crop of a small image (``resize: null, crop: 32, scale: [0.5, 1.0]``). The evaluation
transform is the deterministic counterpart (resize, centre crop).
"""

from __future__ import annotations

import kornia.augmentation as K
import torch
from torch import nn

DEFAULTS = {"resize": None, "crop": 32, "scale": [0.5, 1.0], "flip": True, "color_jitter": 0.4,
            "grayscale": 0.2, "blur": 0.5, "depth_scale": 0.1, "depth_noise": 0.01}


class MultiModalAugment(nn.Module):
    """views = aug([rgb, depth, ...]); `photometric=False` keeps only the geometric part (fine-tuning)."""

    def __init__(self, modalities: list[str], config: dict | None = None, photometric: bool = True):
        super().__init__()
        cfg = {**DEFAULTS, **(config or {})}
        unknown = set(cfg) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown augmentation keys {sorted(unknown)}; known: {', '.join(DEFAULTS)}")
        crop = int(cfg["crop"])
        steps = []
        if cfg["resize"]:
            steps += [K.Resize((int(cfg["resize"]),) * 2), K.RandomCrop((crop, crop))]
        else:
            steps.append(K.RandomResizedCrop((crop, crop), scale=tuple(cfg["scale"])))
        if cfg["flip"]:
            steps.append(K.RandomHorizontalFlip())
        self.geometry = K.AugmentationSequential(*steps)
        self.modalities = list(modalities)
        self.photometric = photometric
        self.cfg = cfg
        j = float(cfg["color_jitter"])
        self.rgb = nn.Sequential(K.ColorJitter(j, j, j, j / 4, p=0.8), K.RandomGrayscale(p=cfg["grayscale"]),
                                 K.RandomGaussianBlur((3, 3), (0.1, 1.5), p=cfg["blur"]))

    def _depth(self, d: torch.Tensor) -> torch.Tensor:
        scale = 1 + self.cfg["depth_scale"] * (2 * torch.rand(len(d), 1, 1, 1, device=d.device) - 1)
        return (d * scale + self.cfg["depth_noise"] * torch.randn_like(d)).clamp(0, 1)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        channels = [x.shape[1] for x in xs]
        sizes = {tuple(x.shape[-2:]) for x in xs}
        if len(sizes) == 1:   # one draw of the geometry for all modalities
            xs = list(torch.split(self.geometry(torch.cat(xs, 1)), channels, dim=1))
        else:                 # different resolutions: each its own draw
            xs = [self.geometry(x) for x in xs]
        if not self.photometric:
            return xs
        out = []
        for name, x in zip(self.modalities, xs):
            if name == "rgb" and x.shape[1] == 3:
                x = self.rgb(x)
            elif name == "depth":
                x = self._depth(x)
            out.append(x)
        return out


class EvalTransform(nn.Module):
    """Deterministic counterpart: resize (when the config resizes) and centre crop to the training size."""

    def __init__(self, config: dict | None = None):
        super().__init__()
        cfg = {**DEFAULTS, **(config or {})}
        steps = [K.Resize((int(cfg["resize"]),) * 2)] if cfg["resize"] else []
        self.steps = nn.Sequential(*steps, K.CenterCrop(int(cfg["crop"])))

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [self.steps(x) for x in xs]
