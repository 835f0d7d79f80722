"""Small convolutional building blocks shared by the architectures."""

from torch import nn


def conv_bn_prelu(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """Convolution followed by batch norm and PReLU (the SemCC default after every convolution)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, padding=(kernel - 1) // 2 if stride == 1 else 1,
                                   bias=False),
                         nn.BatchNorm2d(c_out), nn.PReLU(c_out))


class ResBlock(nn.Module):
    """ResNet basic block (two 3x3 conv + BN) with PReLU, keeping channels and size."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        self.act = nn.PReLU(channels)

    def forward(self, x):
        return self.act(x + self.body(x))
