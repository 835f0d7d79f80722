"""Network architectures, built from plain config dicts so a bundle card can rebuild them."""

from .jscc import JSCCDecoder, JSCCEncoder, jscc_geometry
from .resnet import ResNetCifar, resnet20
from .registry import build_model
from .repvgg import RepVGGBlock, RepVGGCifar
from .shufflenet import ShuffleNetV2Cifar, channel_shuffle

__all__ = ["JSCCEncoder", "JSCCDecoder", "jscc_geometry", "ResNetCifar", "resnet20", "build_model",
           "RepVGGBlock", "RepVGGCifar", "ShuffleNetV2Cifar", "channel_shuffle"]
