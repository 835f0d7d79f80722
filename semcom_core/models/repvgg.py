"""RepVGG-style classifier for 28x28 / 32x32 images (Ding et al. 2021, "RepVGG: Making VGG-style
ConvNets Great Again").

A plain stack of blocks; at training time each block sums three branches (3x3 conv+BN, 1x1 conv+BN,
and a BN-only identity when input and output shapes agree) and applies ReLU. `reparameterize()`
folds every block into one 3x3 convolution with bias (the deploy form), which gives the same
eval-mode outputs. Stages of widths w/2w/4w/8w (w = 32) with 1-2-4-1 blocks; the first stage keeps
the resolution (small images), the others start with a stride-2 block. The stronger downstream
classifier of the robustness study (about 1 M parameters against ResNet-20's 0.27 M).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out))


def _fold_bn(kernel: torch.Tensor, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Kernel and bias of conv(kernel) followed by `bn` in eval mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return kernel * scale.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * scale


class RepVGGBlock(nn.Module):
    """3x3 + 1x1 + identity branches, summed, then ReLU; `fuse()` turns them into one 3x3 conv."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride
        self.branch_3x3 = _conv_bn(c_in, c_out, 3, stride)
        self.branch_1x1 = _conv_bn(c_in, c_out, 1, stride)
        self.branch_id = nn.BatchNorm2d(c_out) if c_in == c_out and stride == 1 else None
        self.fused: nn.Conv2d | None = None

    @property
    def deploy(self) -> bool:
        return self.fused is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused is not None:
            return F.relu(self.fused(x))
        out = self.branch_3x3(x) + self.branch_1x1(x)
        if self.branch_id is not None:
            out = out + self.branch_id(x)
        return F.relu(out)

    @torch.no_grad()
    def equivalent_kernel_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The single 3x3 kernel and bias equal to the three branches (BN in eval mode)."""
        k3, b3 = _fold_bn(self.branch_3x3[0].weight, self.branch_3x3[1])
        k1, b1 = _fold_bn(F.pad(self.branch_1x1[0].weight, [1, 1, 1, 1]), self.branch_1x1[1])  # 1x1 -> centre of 3x3
        kernel, bias = k3 + k1, b3 + b1
        if self.branch_id is not None:
            identity = torch.zeros_like(k3)
            identity[torch.arange(self.c_out), torch.arange(self.c_in), 1, 1] = 1.0
            k_id, b_id = _fold_bn(identity, self.branch_id)
            kernel, bias = kernel + k_id, bias + b_id
        return kernel, bias

    @torch.no_grad()
    def fuse(self) -> None:
        """Replace the branches by one 3x3 conv with bias (no-op when already fused)."""
        if self.fused is not None:
            return
        kernel, bias = self.equivalent_kernel_bias()
        self.fused = nn.Conv2d(self.c_in, self.c_out, 3, self.stride, 1, bias=True).to(kernel)
        self.fused.weight.copy_(kernel)
        self.fused.bias.copy_(bias)
        del self.branch_3x3, self.branch_1x1, self.branch_id


class RepVGGCifar(nn.Module):
    """RepVGG classifier; `features()` is the global-pooled 8*width feature, `head` the linear layer."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 32,
                 blocks: tuple[int, ...] = (1, 2, 4, 1)):
        super().__init__()
        layers, c_in = [], in_channels
        for i, n in enumerate(blocks):
            c_out = width * 2 ** i
            for j in range(n):
                layers.append(RepVGGBlock(c_in, c_out, 2 if i > 0 and j == 0 else 1))
                c_in = c_out
        self.stages = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.stages(x), 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def reparameterize(self) -> "RepVGGCifar":
        """Fuse every block into its deploy form (one 3x3 conv + bias); eval-mode outputs are unchanged.

        Irreversible: the fused model keeps no BN, so call it on a trained model before inference.
        """
        for block in self.stages:
            block.fuse()
        return self
