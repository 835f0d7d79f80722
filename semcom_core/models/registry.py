"""Rebuild a network from its name and config dict (as stored in a bundle card)."""

from torch import nn

from .adaptive_mask import AdaptiveMask
from .jscc import JSCCDecoder, JSCCEncoder
from .latent_mlp import LatentMLP
from .mijscc import MIJSCCDecoder, MIJSCCEncoder
from .repvgg import RepVGGCifar
from .resnet import ResNetCifar
from .shufflenet import ShuffleNetV2Cifar

_BUILDERS = {
    "jscc_encoder": lambda cfg: JSCCEncoder(cfg["image_shape"], cfg["k"], cfg.get("width", 64)),
    "jscc_decoder": lambda cfg: JSCCDecoder(cfg["image_shape"], cfg["k"], cfg.get("width", 64)),
    "mijscc_encoder": lambda cfg: MIJSCCEncoder(cfg["image_shape"], cfg["k"], cfg.get("width", 64)),
    "mijscc_decoder": lambda cfg: MIJSCCDecoder(cfg["image_shape"], cfg["k"], cfg.get("width", 64),
                                                cfg.get("final_bn", False)),
    # A-MIJSCC's mask over k complex symbols (each two latent values)
    "adaptive_mask": lambda cfg: AdaptiveMask(cfg["k"], cfg["eta"], cfg.get("hidden", 64),
                                              temperature=cfg.get("temperature", 0.5),
                                              attention=cfg.get("attention", True), values_per_unit=2),
    "latent_mlp": lambda cfg: LatentMLP(cfg["in_dim"], cfg.get("num_classes", 10), cfg.get("hidden", 256)),
    "resnet_cifar": lambda cfg: ResNetCifar(cfg.get("depth", 20), cfg["in_channels"], cfg.get("num_classes", 10)),
    # `width` is the base channel count; other keys (e.g. a ResNet "depth") are ignored
    "repvgg": lambda cfg: RepVGGCifar(cfg["in_channels"], cfg.get("num_classes", 10), cfg.get("width", 32)),
    "shufflenet_v2": lambda cfg: ShuffleNetV2Cifar(cfg["in_channels"], cfg.get("num_classes", 10),
                                                   cfg.get("width", 24)),
}


def build_model(spec: dict) -> nn.Module:
    """spec = {"arch": name, **config}; raises ValueError for an unknown architecture."""
    arch = spec.get("arch")
    if arch not in _BUILDERS:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(_BUILDERS)}")
    try:
        return _BUILDERS[arch](spec)
    except KeyError as err:
        raise ValueError(f"architecture {arch!r} config lacks {err}") from err
