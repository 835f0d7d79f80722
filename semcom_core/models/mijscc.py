"""The MIJSCC networks (Tables I and II of the MIJSCC paper, "Multi-Task Semantic Communication: A Mutual
Information-Aided Semi-Supervised Approach").

Encoder (Table I): 3x3 conv + BN + ReLU (width maps, full size) -> 3 down-sampling residual blocks
(width, 2*width, 4*width maps at H/2, H/4, ceil(H/8)) -> a conv spanning the whole last map, giving the
2k-dim semantic representation z as 2k maps of size 1x1 (for CIFAR, width 64 and k = 256: 64x32x32,
64x16x16, 128x8x8, 256x4x4, 512x1x1). The residual blocks are E_omega (eq. 16): the output of block
`feature_stage` (the last one by default) is the N x N feature map f the local discriminator reads.
Decoder (Table I): 4 transposed convs, each + BN, ReLU after the first three and a sigmoid after the last
(4*width x ceil(H/8), 2*width x H/4, width x H/2, C x H). The BN before the sigmoid is optional
(`final_bn`, off by default): on Fashion-MNIST it slowed learning badly (val PSNR 11.7 dB after 2 epochs
with it, 15.5 dB without; MSE-only, 5000 images), as it re-centres every output batch.
Global discriminator (Table II): 2 convs on the image (ReLU, none) -> flatten, concatenate z ->
3 fully connected layers (ReLU, ReLU, none) -> one score per sample.
Local discriminator (Table II): z expanded to the feature map's N x N positions and concatenated with it ->
3 1x1 convs (ReLU, ReLU, none) -> one score per position.

Sizes: H and W must be multiples of 4, so that 32x32 (CIFAR) maps to 16, 8, 4 and 28x28 (MNIST) to 14, 7, 4;
the third stride-2 stage rounds up, and the decoder's transposed convs restore each size exactly.
Widths the paper leaves open (discriminator convs and hidden layers) are config arguments.
"""

from __future__ import annotations

import math

import torch
from torch import nn

DOWNSAMPLING_STAGES = 3


def mijscc_geometry(image_shape) -> dict:
    """Spatial sizes of the encoder's stages for an image shape [C,H,W]: "sizes" lists (h, w) for the input
    and after each of the three down-sampling residual blocks."""
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be [C, H, W], got {list(image_shape)}")
    c, h, w = (int(v) for v in image_shape)
    if c < 1:
        raise ValueError(f"image must have at least one channel, got {c}")
    if h < 4 or w < 4 or h % 4 or w % 4:
        raise ValueError(f"image height and width must be positive multiples of 4, got {h}x{w}")
    sizes = [(h, w)]
    for _ in range(DOWNSAMPLING_STAGES):
        sizes.append((math.ceil(sizes[-1][0] / 2), math.ceil(sizes[-1][1] / 2)))
    return {"channels": c, "sizes": sizes}


def _check_k(k: int) -> int:
    if int(k) != k or k < 1:
        raise ValueError(f"k (number of complex symbols) must be a positive integer, got {k}")
    return int(k)


def _check_latent(z: torch.Tensor, k: int, who: str) -> None:
    if z.ndim != 2 or z.shape[1] != 2 * k:
        raise ValueError(f"{who} expects [B, {2 * k}] latents, got {tuple(z.shape)}")


class DownResidualBlock(nn.Module):
    """Residual block halving the size (rounding up): 3x3 stride-2 conv + BN + ReLU, 3x3 conv + BN,
    plus a 1x1 stride-2 conv + BN shortcut, then ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, 2, bias=False), nn.BatchNorm2d(c_out))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.body(x) + self.shortcut(x))


class MIJSCCEncoder(nn.Module):
    """E_alpha = E_omega (head conv + residual blocks) followed by E_phi (the summarising conv), eq. 16."""

    def __init__(self, image_shape, k: int, width: int = 64, feature_stage: int = DOWNSAMPLING_STAGES):
        super().__init__()
        geo = mijscc_geometry(image_shape)
        self.k = _check_k(k)
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        if feature_stage not in range(1, DOWNSAMPLING_STAGES + 1):
            raise ValueError(f"feature_stage must be 1..{DOWNSAMPLING_STAGES}, got {feature_stage}")
        self.image_shape = tuple(int(v) for v in image_shape)
        self.feature_stage = feature_stage
        chans = [width, width, 2 * width, 4 * width]
        self.head = nn.Sequential(nn.Conv2d(geo["channels"], width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.blocks = nn.ModuleList(DownResidualBlock(chans[i], chans[i + 1]) for i in range(DOWNSAMPLING_STAGES))
        self.out = nn.Conv2d(chans[-1], 2 * self.k, geo["sizes"][-1])  # spans the whole map -> 1x1
        self.feature_shape = (chans[feature_stage], *geo["sizes"][feature_stage])

    def forward(self, x: torch.Tensor, return_features: bool = False):
        """Images [B,C,H,W] -> z [B, 2k]; with return_features, (z, f) where f [B, C', N, N] is the
        feature map of residual block `feature_stage` (E_omega(s), eq. 16)."""
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"encoder expects [B, {', '.join(map(str, self.image_shape))}] images, "
                             f"got {tuple(x.shape)}")
        h = self.head(x)
        features = None
        for i, block in enumerate(self.blocks, start=1):
            h = block(h)
            if i == self.feature_stage:
                features = h
        z = self.out(h).flatten(1)
        return (z, features) if return_features else z


class MIJSCCDecoder(nn.Module):
    """D_beta: z [B, 2k] as 2k maps of 1x1 -> 4 transposed convs with BN -> images in [0, 1]."""

    def __init__(self, image_shape, k: int, width: int = 64, final_bn: bool = False):
        super().__init__()
        geo = mijscc_geometry(image_shape)
        self.k = _check_k(k)
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        sizes = geo["sizes"][::-1]  # smallest first
        chans = [4 * width, 2 * width, width, geo["channels"]]
        layers: list[nn.Module] = [nn.ConvTranspose2d(2 * self.k, chans[0], sizes[0], bias=False),
                                   nn.BatchNorm2d(chans[0]), nn.ReLU(inplace=True)]
        for i in range(DOWNSAMPLING_STAGES):
            (h_in, w_in), (h_out, w_out) = sizes[i], sizes[i + 1]
            # a 3x3 stride-2 transposed conv (padding 1) gives 2n - 1; output_padding 1 gives 2n
            pad = (h_out - (2 * h_in - 1), w_out - (2 * w_in - 1))
            last = i == DOWNSAMPLING_STAGES - 1
            layers.append(nn.ConvTranspose2d(chans[i], chans[i + 1], 3, 2, 1, output_padding=pad,
                                             bias=last and not final_bn))
            if not last or final_bn:
                layers.append(nn.BatchNorm2d(chans[i + 1]))
            layers.append(nn.Sigmoid() if last else nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Received latent [B, 2k] -> images [B,C,H,W] in [0, 1]."""
        _check_latent(z, self.k, "decoder")
        return self.body(z[:, :, None, None])


class GlobalDiscriminator(nn.Module):
    """T_theta_g(s, z) of eq. 15: two 4x4 stride-2 convs on the image (width, width // 2 maps; ReLU, none),
    flattened and concatenated with z, then three fully connected layers (hidden, hidden, 1)."""

    def __init__(self, image_shape, k: int, width: int = 64, hidden: int = 512):
        super().__init__()
        geo = mijscc_geometry(image_shape)
        self.k = _check_k(k)
        if width < 2 or hidden < 1:
            raise ValueError(f"width must be >= 2 and hidden >= 1, got {width}, {hidden}")
        self.image_shape = tuple(int(v) for v in image_shape)
        self.convs = nn.Sequential(nn.Conv2d(geo["channels"], width, 4, 2, 1), nn.ReLU(inplace=True),
                                   nn.Conv2d(width, width // 2, 4, 2, 1))
        h, w = geo["sizes"][0]
        flat = (width // 2) * (h // 4) * (w // 4)  # each 4x4 stride-2 conv (padding 1) halves an even size
        self.fc = nn.Sequential(nn.Linear(flat + 2 * self.k, hidden), nn.ReLU(inplace=True),
                                nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Images [B,C,H,W] and latents [B, 2k] -> scores [B]."""
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"global discriminator expects [B, {', '.join(map(str, self.image_shape))}] "
                             f"images, got {tuple(x.shape)}")
        _check_latent(z, self.k, "global discriminator")
        if x.shape[0] != z.shape[0]:
            raise ValueError(f"batch sizes differ: {x.shape[0]} images, {z.shape[0]} latents")
        return self.fc(torch.cat([self.convs(x).flatten(1), z], dim=1)).squeeze(1)


class LocalDiscriminator(nn.Module):
    """T_theta_l(f^(i), z) of eq. 17: z expanded to every position of the feature map and concatenated with it,
    then three 1x1 convs (hidden, hidden, 1; ReLU, ReLU, none) -> one score per position."""

    def __init__(self, feature_channels: int, k: int, hidden: int = 512):
        super().__init__()
        self.k = _check_k(k)
        if feature_channels < 1 or hidden < 1:
            raise ValueError(f"feature_channels and hidden must be >= 1, got {feature_channels}, {hidden}")
        self.feature_channels = int(feature_channels)
        self.body = nn.Sequential(nn.Conv2d(self.feature_channels + 2 * self.k, hidden, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(hidden, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, 1, 1))

    def forward(self, features: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Feature maps [B, C', N, M] and latents [B, 2k] -> scores [B, N, M]."""
        if features.ndim != 4 or features.shape[1] != self.feature_channels:
            raise ValueError(f"local discriminator expects [B, {self.feature_channels}, N, M] feature maps, "
                             f"got {tuple(features.shape)}")
        _check_latent(z, self.k, "local discriminator")
        if features.shape[0] != z.shape[0]:
            raise ValueError(f"batch sizes differ: {features.shape[0]} feature maps, {z.shape[0]} latents")
        expanded = z[:, :, None, None].expand(-1, -1, *features.shape[2:])
        return self.body(torch.cat([features, expanded], dim=1)).squeeze(1)
