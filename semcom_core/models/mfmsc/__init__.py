"""MFMSC networks (Zhu et al., "Multi-Modal Fusion-Based Multi-Task Semantic Communication System"):
per-modality semantic encoders, the fusion module, the MLP channel codec and the light task heads."""

from .codec import ChannelDecoder, ChannelEncoder
from .common import masked_mean
from .encoders import (CausalConv2d, FrameTransformerEncoder, ImageEncoder, PatchTransformerEncoder, SpeechEncoder,
                       TaskEmbedding, TextEncoder, VGGBlock, VideoEncoder)
from .fusion import FusionModule
from .heads import PatchImageHead, PooledHead, TokenHead

__all__ = ["ImageEncoder", "TextEncoder", "CausalConv2d", "VGGBlock", "SpeechEncoder", "VideoEncoder",
           "TaskEmbedding", "PatchTransformerEncoder", "FrameTransformerEncoder", "FusionModule", "ChannelEncoder", "ChannelDecoder", "PooledHead", "TokenHead",
           "PatchImageHead", "masked_mean"]
