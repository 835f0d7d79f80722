"""The semantic encoder and decoder of the SemCC paper (Fig. 1), used by DeepJSCC and its successors.

Encoder: 5x5 head conv -> 2 x [ResBlock + 4x4 stride-2 conv] -> channel coding module (3x3 conv to
`code_channels` maps of size H/4 x W/4) -> the first 2k values of the flattened maps.
Decoder (symmetric): the 2k values, zero-filled to the code maps -> 5x5 head conv ->
2 x [ResBlock + conv + pixel shuffle x2] -> 3x3 conv + sigmoid.

k = round(ratio * n) is exact for any ratio: the code maps carry ceil(2k / (H/4 * W/4)) channels and
the unused tail is never sent (the decoder sees zeros there), so k/n matches what was asked.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .blocks import ResBlock, conv_bn_prelu


def jscc_geometry(image_shape, ratio: float) -> dict:
    """k, n and the code-map size for an image shape [C,H,W] and a bandwidth ratio k/n."""
    c, h, w = image_shape
    if h % 4 or w % 4:
        raise ValueError(f"image height and width must be multiples of 4, got {h}x{w}")
    if not 0 < ratio <= 1:
        raise ValueError(f"bandwidth ratio k/n must be in (0, 1], got {ratio}")
    n = c * h * w
    k = max(1, round(ratio * n))
    cells = (h // 4) * (w // 4)
    return {"n": n, "k": k, "code_channels": math.ceil(2 * k / cells), "code_hw": [h // 4, w // 4]}


class JSCCEncoder(nn.Module):
    def __init__(self, image_shape, k: int, width: int = 64):
        super().__init__()
        c, h, w = image_shape
        geo = jscc_geometry(image_shape, k / (c * h * w))
        self.k = k
        self.body = nn.Sequential(
            conv_bn_prelu(c, width, 5),
            ResBlock(width), conv_bn_prelu(width, width, 4, stride=2),
            ResBlock(width), conv_bn_prelu(width, width, 4, stride=2),
            nn.Conv2d(width, geo["code_channels"], 3, padding=1))  # channel coding module (no BN/act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images [B,C,H,W] -> real latent z [B, 2k]."""
        return self.body(x).flatten(1)[:, : 2 * self.k]


class JSCCDecoder(nn.Module):
    def __init__(self, image_shape, k: int, width: int = 64):
        super().__init__()
        c, h, w = image_shape
        geo = jscc_geometry(image_shape, k / (c * h * w))
        self.k = k
        self.code_shape = (geo["code_channels"], h // 4, w // 4)
        self.body = nn.Sequential(
            conv_bn_prelu(geo["code_channels"], width, 5),
            ResBlock(width), conv_bn_prelu(width, 4 * width, 3), nn.PixelShuffle(2),
            ResBlock(width), conv_bn_prelu(width, 4 * width, 3), nn.PixelShuffle(2),
            nn.Conv2d(width, c, 3, padding=1), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Received latent [B, 2k] -> images [B,C,H,W] in [0,1]."""
        if z.ndim != 2 or z.shape[1] != 2 * self.k:
            raise ValueError(f"decoder expects [B, {2 * self.k}] latents, got {tuple(z.shape)}")
        full = z.new_zeros(z.shape[0], math.prod(self.code_shape))
        full[:, : 2 * self.k] = z
        return self.body(full.view(-1, *self.code_shape))
