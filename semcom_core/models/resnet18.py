"""ResNet-18 (He et al. 2016, Table 1) as a device encoder: any number of input channels, a K-dim output.

The standard ImageNet network (7x7/2 stem, 3x3/2 max-pool, four stages of two basic blocks at 64, 128, 256,
512 channels, global average pooling). `width` scales every stage (64 is the paper's network; small configs
use fewer channels to train on a CPU). `norm="group"` swaps BatchNorm for GroupNorm, whose output does not
depend on the rest of the batch (used where per-sample independence matters, e.g. exact multi-process checks
on CPU, where SyncBatchNorm is not available).

`feature_norm="batch"` standardises each of the K output values (BatchNorm without affine parameters). Losses
on batch-centred correlations (Barlow Twins, the decoupled loss) leave a feature's offset and scale free; they
drift during pre-training (to norms near 400 in the embedded RGB-D runs), and a transmitter that normalises
power per sample then spends almost all of it on a constant offset. Standardised features carry none.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FEATURE_NORMS = ("none", "batch")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(32, channels // 4) or 1, channels)
    raise ValueError(f"norm must be 'batch' or 'group', got {kind!r}")


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, norm: str):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = _norm(norm, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = _norm(norm, c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), _norm(norm, c_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18Encoder(nn.Module):
    """x [B, C, H, W] -> z [B, K]: ResNet-18 backbone, then a linear layer to the K-dim semantic feature."""

    def __init__(self, in_channels: int, k: int, width: int = 64, norm: str = "batch", feature_norm: str = "none"):
        super().__init__()
        if feature_norm not in FEATURE_NORMS:
            raise ValueError(f"feature_norm must be one of {', '.join(FEATURE_NORMS)}, got {feature_norm!r}")
        if in_channels < 1 or k < 1 or width < 4:
            raise ValueError(f"need in_channels >= 1, k >= 1, width >= 4; got {in_channels}, {k}, {width}")
        self.in_channels, self.k = in_channels, k
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 7, 2, 3, bias=False), _norm(norm, width),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        blocks, c_in = [], width
        for stage, stride in enumerate((1, 2, 2, 2)):
            c_out = width * 2 ** stage
            blocks += [BasicBlock(c_in, c_out, stride, norm), BasicBlock(c_out, c_out, 1, norm)]
            c_in = c_out
        self.stages = nn.Sequential(*blocks)
        self.head = nn.Linear(c_in, k)
        # "batch": each of the K outputs standardised over the batch (running statistics at test time)
        self.feature_norm = nn.BatchNorm1d(k, affine=False) if feature_norm == "batch" else nn.Identity()

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.stages(self.stem(x)), 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"encoder expects [B, {self.in_channels}, H, W], got {tuple(x.shape)}")
        return self.feature_norm(self.head(self.backbone(x)))
