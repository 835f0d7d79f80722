"""ShuffleNet-V2-style classifier for 28x28 / 32x32 images (Ma et al. 2018, "ShuffleNet V2: Practical
Guidelines for Efficient CNN Architecture Design").

Basic units split the channels in two, pass one half through 1x1 conv - 3x3 depthwise conv - 1x1 conv,
concatenate with the untouched half and shuffle the channels; stride-2 units feed the whole input to
both branches, doubling the channels. A 3x3 stem of w = 24 channels (stride 1, no max-pool, for small
images), then stages of 2w/4w/8w channels with 4/8/4 units as in the paper (the 0.5x widths); the
1024-channel conv5 is left out to keep the model light. The lighter downstream classifier of the
robustness study (about 0.14 M parameters against ResNet-20's 0.27 M).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def channel_shuffle(x: torch.Tensor, groups: int = 2) -> torch.Tensor:
    """Interleave the channel groups: with 2 groups, channels [a0..an, b0..bn] become [a0, b0, a1, b1, ...]."""
    b, c, h, w = x.shape
    return x.reshape(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, relu: bool = True):
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


def _main_branch(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    """1x1 conv + ReLU, 3x3 depthwise conv (no ReLU), 1x1 conv + ReLU."""
    return nn.Sequential(_conv_bn(c_in, c_out, 1), _conv_bn(c_out, c_out, 3, stride, groups=c_out, relu=False),
                         _conv_bn(c_out, c_out, 1))


class ShuffleUnit(nn.Module):
    """Basic unit (stride 1, c_in == c_out) or down-sampling unit (stride 2)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"ShuffleNet-V2 units need an even channel count, got {c_out}")
        if stride == 1 and c_in != c_out:
            raise ValueError("a stride-1 ShuffleNet-V2 unit keeps its channel count")
        self.stride = stride
        half = c_out // 2
        if stride == 1:
            self.shortcut = None
            self.branch = _main_branch(half, half, 1)
        else:  # both branches see the whole input: depthwise 3x3 stride 2 + 1x1 on the shortcut side
            self.shortcut = nn.Sequential(_conv_bn(c_in, c_in, 3, stride, groups=c_in, relu=False),
                                          _conv_bn(c_in, half, 1))
            self.branch = _main_branch(c_in, half, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shortcut is None:
            keep, x = x.chunk(2, dim=1)
            out = torch.cat((keep, self.branch(x)), dim=1)
        else:
            out = torch.cat((self.shortcut(x), self.branch(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2Cifar(nn.Module):
    """ShuffleNet-V2 classifier; `features()` is the global-pooled 8*width feature, `head` the linear layer."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 24,
                 repeats: tuple[int, ...] = (4, 8, 4)):
        super().__init__()
        self.stem = _conv_bn(in_channels, width, 3)
        units, c_in = [], width
        for i, n in enumerate(repeats):
            c_out = width * 2 ** (i + 1)
            units.append(ShuffleUnit(c_in, c_out, 2))
            units += [ShuffleUnit(c_out, c_out, 1) for _ in range(n - 1)]
            c_in = c_out
        self.stages = nn.Sequential(*units)
        self.head = nn.Linear(c_in, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.stages(self.stem(x)), 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
