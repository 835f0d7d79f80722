"""MFMSC and its comparisons: one transceiver serving many tasks over image, text, speech and video.

The chain of one task instance (Zhu et al., Section IV; Algorithms 1 and 2)::

    modality inputs --(semantic encoder per modality)--> token sequences [B, L_m, P]
      multi-modal task, fusion "bert":   fusion module (segments + task token) -> one vector [B, 1, P]
      multi-modal task, fusion "concat": all tokens + task token                -> [B, sum L_m + 1, P]
      single-modal task:                 its tokens + task token (fusion bypassed)
      --(channel encoder: 2-layer MLP per token, P -> d reals)--> d/2 complex symbols per token,
        unit average power over the instance's valid tokens
      --(semcom channel: AWGN, Rayleigh, ...)--> --(channel decoder: 2-layer MLP)--> task head

Architectures (``arch``):

- ``"mfmsc"``: the paper's encoders (ResNet image, BERT text, causal-VGG + transformer speech,
  ViViT video) and the BERT-style fusion module. Trained jointly it is MFMSC; one task at a time, MFSC.
- ``"mmsc"``: the same encoders, no fusion: multi-modal tokens are concatenated (MMSC).
- ``"udeepsc"``: U-DeepSC / T-DeepSC-style transformers without fusion: ViT patch encoders for images
  and for video frames (video handled as images, as U-DeepSC does), a frame transformer for speech,
  the BERT text encoder; for tasks with one output per instance each modality's tokens are pooled to
  ``pool_tokens`` tokens before the channel (U-DeepSC sends a few task tokens), then concatenated.

Tasks whose output is a sequence (image or text reconstruction, speech recognition) always send every
token. Padding tokens (short texts and utterances) are neither sent nor counted: the receiver learns the
length with the frame, like the length fields of the classical links.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..channels import Channel
from ..models import mfmsc as nets
from ..models.mfmsc.heads import TaskHeadSpec
from ..symbols import SymbolCodec

ARCHES = ("mfmsc", "mmsc", "udeepsc")
MODALITIES = ("image", "text", "speech", "video")
SEQUENCE_KINDS = ("image_recon", "text_recon", "ctc")
KINDS = ("classify", "multilabel") + SEQUENCE_KINDS


@dataclass
class Sent:
    """What one batch put on the channel.

    Attributes:
        tokens: channel-decoded features [B, L, P] at the receiver.
        mask: valid tokens [B, L].
        symbols: complex channel uses per instance [B] (what the overhead table counts).
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    symbols: torch.Tensor


def pool_tokens(tokens: torch.Tensor, mask: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked average of consecutive token groups down to ``count`` tokens per instance."""
    groups = []
    for part in torch.tensor_split(torch.arange(tokens.shape[1], device=tokens.device), count):
        sub_mask = mask[:, part]
        sub_mask = sub_mask | ~sub_mask.any(1, keepdim=True)   # an all-padding group averages its padding
        groups.append(nets.masked_mean(tokens[:, part], sub_mask))
    pooled = torch.stack(groups, 1)
    return pooled, torch.ones(pooled.shape[:2], dtype=torch.bool, device=tokens.device)


class MFMSCSystem(nn.Module):
    """The multi-task transceiver of one architecture (see the module docstring).

    Args:
        tasks: the tasks it serves, in task-id order.
        arch: ``"mfmsc"``, ``"mmsc"`` or ``"udeepsc"``.
        model: network sizes (``semcom_core.runs.config.MFMSC["model"]``).
        data: input geometry: ``vocab_size``, ``text_max_len``, ``speech_bins``, ``speech_frames``,
            ``video_frames``, ``video_size``, ``image_size``.
    """

    def __init__(self, tasks: list[TaskHeadSpec], arch: str, model: dict, data: dict):
        super().__init__()
        if arch not in ARCHES:
            raise ValueError(f"arch must be one of {', '.join(ARCHES)}, got {arch!r}")
        if int(model["symbols_per_token"]) < 1:
            raise ValueError("model.symbols_per_token must be at least 1")
        self.tasks = {t.name: t for t in tasks}
        self.task_ids = {t.name: i for i, t in enumerate(tasks)}
        self.arch = arch
        self.pool = int(model.get("pool_tokens", 2))
        dim = int(model["dim"])
        used = {m for t in tasks for m in t.modalities}
        self.encoders = nn.ModuleDict({m: self._encoder(m, arch, model, data) for m in MODALITIES if m in used})
        self.task_embedding = nets.TaskEmbedding(len(tasks), dim)
        self.fusion = None
        if arch == "mfmsc" and any(t.multimodal for t in tasks):
            self.fusion = nets.FusionModule(dim, int(model["fusion_layers"]), int(model["fusion_heads"]),
                                            num_segments=len(MODALITIES),
                                            dropout=float(model.get("fusion_dropout", 0.1)),
                                            pre_norm=model.get("fusion_norm", "post") == "pre")
        d = 2 * int(model["symbols_per_token"])
        self.channel_encoder = nets.ChannelEncoder(dim, int(model["channel_hidden"]), d)
        self.channel_decoder = nets.ChannelDecoder(d, int(model["channel_hidden"]), dim)
        self.codec = SymbolCodec()   # analog symbols
        image_size = int(data.get("image_size", 28))
        self.heads = nn.ModuleDict({t.name: self._head(t, dim, image_size) for t in tasks})

    # ---- construction -------------------------------------------------------------------------
    @staticmethod
    def _encoder(modality: str, arch: str, m: dict, data: dict) -> nn.Module:
        dim, heads = int(m["dim"]), int(m["encoder_heads"])
        if modality == "text":
            return nets.TextEncoder(int(data["vocab_size"]), dim, int(m["text_layers"]), heads,
                                    max_len=int(data["text_max_len"]))
        if arch == "udeepsc":
            if modality == "image":
                return nets.PatchTransformerEncoder(1, int(data.get("image_size", 28)), 7, dim, int(m["vit_layers"]),
                                                    heads)
            if modality == "video":
                return nets.PatchTransformerEncoder(1, int(data["video_size"]), 8, dim, int(m["vit_layers"]), heads,
                                   frames=int(data["video_frames"]))
            return nets.FrameTransformerEncoder(int(data["speech_bins"]), dim, int(m["speech_layers"]), heads,
                                     int(data["speech_frames"]))
        if modality == "image":
            return nets.ImageEncoder(1, dim, int(m["image_width"]))
        if modality == "video":
            return nets.VideoEncoder(int(data["video_frames"]), int(data["video_size"]), 1, dim=dim,
                                     layers=int(m["video_layers"]), heads=heads)
        return nets.SpeechEncoder(int(data["speech_bins"]), dim, tuple(m["speech_channels"]),
                                  int(m["speech_layers"]), heads, max_frames=int(data["speech_frames"]))

    def _head(self, task: TaskHeadSpec, dim: int, image_size: int) -> nn.Module:
        if task.kind == "image_recon":
            if self.arch == "udeepsc":
                grid = self.encoders["image"].grid
                return nets.PatchImageHead(dim, (grid, grid), (1, image_size, image_size))
            return nets.PatchImageHead(dim, self.encoders["image"].grid(image_size, image_size),
                                       (1, image_size, image_size))
        if task.kind in ("text_recon", "ctc"):
            return nets.TokenHead(dim, task.outputs)
        return nets.PooledHead(dim, task.outputs)

    def task_parameters(self, name: str) -> list[nn.Parameter]:
        """The parameters task ``name`` uses: what its own optimiser updates (Algorithm 1)."""
        task = self.tasks[name]
        modules = [self.encoders[m] for m in task.modalities]
        modules += [self.task_embedding, self.channel_encoder, self.channel_decoder, self.heads[name]]
        if self.fusion is not None and task.multimodal:
            modules.append(self.fusion)
        return [p for module in modules for p in module.parameters()]

    # ---- the chain ------------------------------------------------------------------------------
    def encode_modality(self, modality: str, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        if modality not in batch:
            raise ValueError(f"the batch has no {modality!r} input (has {', '.join(sorted(batch))})")
        x = batch[modality]
        if x.is_floating_point() and not torch.isfinite(x).all():
            raise FloatingPointError(f"the {modality} input holds NaN or infinite values")
        if modality == "speech":
            return self.encoders["speech"](x, batch["speech_len"])
        return self.encoders[modality](x)

    def semantic_tokens(self, name: str, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """What the transmitter hands to the channel encoder: [B, L, P] tokens and their mask."""
        task = self.tasks[name]
        feats = [self.encode_modality(m, batch) for m in task.modalities]
        batch_size = feats[0][0].shape[0]
        ids = torch.full((batch_size,), self.task_ids[name], dtype=torch.long, device=feats[0][0].device)
        task_token = self.task_embedding(ids)
        if task.multimodal and self.fusion is not None:
            segments = [MODALITIES.index(m) for m in task.modalities]
            fused = self.fusion(feats, segments, task_token).unsqueeze(1)
            return fused, torch.ones(fused.shape[:2], dtype=torch.bool, device=fused.device)
        if self.arch == "udeepsc" and task.kind not in SEQUENCE_KINDS:
            feats = [pool_tokens(f, m, self.pool) for f, m in feats]
        ones = torch.ones(batch_size, 1, dtype=torch.bool, device=task_token.device)
        tokens = torch.cat([task_token] + [f for f, _ in feats], 1)
        mask = torch.cat([ones] + [m for _, m in feats], 1)
        return tokens, mask

    def transmit(self, name: str, batch: dict, channel: Channel, snr_db) -> Sent:
        """Transmitter, channel and channel decoder for one batch of task ``name``."""
        tokens, mask = self.semantic_tokens(name, batch)
        z = self.channel_encoder(tokens)                                   # [B, L, d]
        b, length, d = z.shape
        active = mask.repeat_interleave(d // 2, dim=1)                     # padding tokens are not sent
        s, side = self.codec.to_symbols(z.float().reshape(b, length * d), active)
        z_hat = self.codec.from_symbols(channel(s, snr_db), side, active).reshape(b, length, d)
        valid = side.end                                                   # symbols really sent
        return Sent(self.channel_decoder(z_hat), mask, valid)

    def forward(self, name: str, batch: dict, channel: Channel, snr_db) -> tuple[torch.Tensor, Sent]:
        """Task ``name``'s raw outputs (logits, token logits or images) and what was sent."""
        if name not in self.tasks:
            raise ValueError(f"this system has no task {name!r}; it serves {', '.join(self.tasks)}")
        sent = self.transmit(name, batch, channel, snr_db)
        return self.decode(name, sent, batch), sent

    def decode(self, name: str, sent: Sent, batch: dict) -> torch.Tensor:
        task, head = self.tasks[name], self.heads[name]
        tokens, mask = sent.tokens[:, 1:], sent.mask[:, 1:]                 # drop the task token
        if task.kind in ("text_recon", "ctc"):
            return head(tokens)
        if task.kind == "image_recon":
            return head(tokens, mask)
        return head(sent.tokens, sent.mask)

    def speech_output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return self.encoders["speech"].output_lengths(lengths)
