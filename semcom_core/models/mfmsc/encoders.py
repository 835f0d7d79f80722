"""MFMSC semantic encoders (paper Section IV-A) and the task embedding.

Every encoder maps its input to ``(features [B, L, dim], mask [B, L] bool)``, mask True for valid tokens.
Transformer layers: text is post-LN (as BERT); speech and video are pre-LN with a final LayerNorm (as the
speech-transformer and ViT/ViViT models they follow). Rows that are all padding (text ids all ``pad_id``,
speech ``lengths`` 0) are allowed: their features are finite, their mask is all False.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .common import MaskedTransformer, check_heads, require_integer, require_shape, transformer_layer


def _halve(size: int, times: int) -> int:
    """Size after ``times`` stride-2 steps that round up (28 -> 14 -> 7 -> 4)."""
    for _ in range(times):
        size = (size + 1) // 2
    return size


def _all_valid(features: torch.Tensor) -> torch.Tensor:
    return torch.ones(features.shape[:2], dtype=torch.bool, device=features.device)


# --- image ---------------------------------------------------------------------------------------

class BasicBlock(nn.Module):
    """ResNet basic block halving the map (rounding up): 3x3 stride-2 conv + BN + ReLU, 3x3 conv + BN,
    plus a 1x1 stride-2 conv + BN shortcut, then ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=2, bias=False), nn.BatchNorm2d(c_out))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class ImageEncoder(nn.Module):
    """ResNet image encoder (paper Fig. 2): 3x3 conv stem (``width`` maps) -> log2(downsample) stride-2
    basic blocks doubling the width -> 1x1 conv to ``dim``. The [B, dim, h, w] map is read as h*w tokens in
    raster order; each stage rounds up, so 28x28 with downsample 8 gives 4x4 = 16 tokens.

    Each token gets a learned embedding of its grid row plus one of its column (up to ``max_grid``). The fusion
    module adds no position embedding (eq. 10), so without these a token would not know where in the image
    it lies, and a question such as "what is in the top left?" could not be answered."""

    def __init__(self, in_channels: int = 1, dim: int = 96, width: int = 32, downsample: int = 8,
                 max_grid: int = 32):
        super().__init__()
        if downsample < 1 or downsample & (downsample - 1):
            raise ValueError(f"downsample must be a power of two, got {downsample}")
        self.in_channels, self.dim = in_channels, dim
        self.stages = downsample.bit_length() - 1
        widths = [width * 2 ** i for i in range(self.stages + 1)]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        self.blocks = nn.Sequential(*(BasicBlock(c_in, c_out) for c_in, c_out in zip(widths, widths[1:])))
        self.project = nn.Conv2d(widths[-1], dim, 1)
        self.max_grid = max_grid
        self.rows = nn.Parameter(torch.zeros(max_grid, dim))
        self.cols = nn.Parameter(torch.zeros(max_grid, dim))
        nn.init.normal_(self.rows, std=0.02)
        nn.init.normal_(self.cols, std=0.02)

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """Token grid (h, w) for an input of ``height`` x ``width`` pixels."""
        return _halve(height, self.stages), _halve(width, self.stages)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images [B, C, H, W] -> (features [B, h*w, dim], mask [B, h*w] all True)."""
        require_shape(images, (None, self.in_channels, None, None), f"images [B, C={self.in_channels}, H, W]")
        if images.shape[2] < 1 or images.shape[3] < 1:
            raise ValueError(f"images must have a positive height and width, got {tuple(images.shape)}")
        maps = self.project(self.blocks(self.stem(images)))
        h, w = maps.shape[2:]
        if h > self.max_grid or w > self.max_grid:
            raise ValueError(f"a {tuple(images.shape[2:])} image gives a {h}x{w} token grid, more than max_grid="
                             f"{self.max_grid}; downsample more or raise max_grid")
        maps = maps + (self.rows[:h, None, :] + self.cols[None, :w, :]).permute(2, 0, 1)
        features = maps.flatten(2).transpose(1, 2)
        return features, _all_valid(features)


# --- text ----------------------------------------------------------------------------------------

class TextEncoder(nn.Module):
    """BERT-style text encoder (paper Fig. 3): token + learned position + segment embeddings (eq. 7),
    LayerNorm, dropout, then post-LN transformer layers; the mask is ``ids != pad_id``."""

    def __init__(self, vocab_size: int, dim: int = 96, layers: int = 2, heads: int = 4, max_len: int = 32,
                 pad_id: int = 0, segments: int = 2, dropout: float = 0.1, ffn: int | None = None):
        super().__init__()
        check_heads(dim, heads)
        if not 0 <= pad_id < vocab_size:
            raise ValueError(f"pad_id ({pad_id}) must lie in [0, vocab_size={vocab_size})")
        self.vocab_size, self.dim, self.max_len, self.pad_id, self.segments = (vocab_size, dim, max_len,
                                                                               pad_id, segments)
        self.tokens = nn.Embedding(vocab_size, dim, padding_idx=pad_id)
        self.positions = nn.Embedding(max_len, dim)
        self.segment_embedding = nn.Embedding(segments, dim)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.transformer = MaskedTransformer(dim, layers, heads, ffn, dropout, pre_norm=False)

    def _check(self, ids: torch.Tensor, segment_ids: torch.Tensor | None) -> None:
        require_shape(ids, (None, None), "token ids [B, L]")
        require_integer(ids, "token ids")
        length = ids.shape[1]
        if length == 0:
            raise ValueError("token ids must hold at least one position (pad empty texts with pad_id)")
        if length > self.max_len:
            raise ValueError(f"text of {length} tokens exceeds max_len={self.max_len}; truncate it with the "
                             "tokenizer")
        if ids.numel() and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"token ids must lie in [0, vocab_size={self.vocab_size}), got "
                             f"[{int(ids.min())}, {int(ids.max())}]")
        if segment_ids is not None:
            require_shape(segment_ids, tuple(ids.shape), f"segment ids [B, L] = {tuple(ids.shape)}")
            require_integer(segment_ids, "segment ids")
            if segment_ids.min() < 0 or segment_ids.max() >= self.segments:
                raise ValueError(f"segment ids must lie in [0, segments={self.segments})")

    def forward(self, ids: torch.Tensor, segment_ids: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """ids [B, L] long (L <= max_len), segment_ids [B, L] (default 0) ->
        (features [B, L, dim], mask [B, L] = ids != pad_id)."""
        self._check(ids, segment_ids)
        if segment_ids is None:
            segment_ids = torch.zeros_like(ids)
        positions = torch.arange(ids.shape[1], device=ids.device)
        embedded = self.tokens(ids) + self.positions(positions) + self.segment_embedding(segment_ids)
        mask = ids != self.pad_id
        features = self.transformer(self.dropout(self.norm(embedded)), mask)
        return features, mask


# --- task ----------------------------------------------------------------------------------------

class TaskEmbedding(nn.Module):
    """Learned task embedding E_i^T (paper Section IV-A): task ids [B] -> one token [B, 1, dim], to be
    concatenated with the task's features."""

    def __init__(self, num_tasks: int, dim: int):
        super().__init__()
        self.num_tasks = num_tasks
        self.embedding = nn.Embedding(num_tasks, dim)

    def forward(self, task_ids: torch.Tensor) -> torch.Tensor:
        require_shape(task_ids, (None,), "task ids [B]")
        require_integer(task_ids, "task ids")
        if task_ids.numel() and (task_ids.min() < 0 or task_ids.max() >= self.num_tasks):
            raise ValueError(f"task ids must lie in [0, num_tasks={self.num_tasks})")
        return self.embedding(task_ids).unsqueeze(1)


# --- speech --------------------------------------------------------------------------------------

class CausalConv2d(nn.Module):
    """2-D convolution over [B, C, T, F] (time, frequency) that never looks ahead in time: time is padded
    by kernel_t - 1 frames on the left only, frequency symmetrically, so the output keeps T and F and
    output frame t depends on input frames t - kernel_t + 1 .. t."""

    def __init__(self, c_in: int, c_out: int, kernel: tuple[int, int] = (3, 3)):
        super().__init__()
        kernel_t, kernel_f = kernel
        self.in_channels = c_in
        # F.pad order: (freq left, freq right, time before, time after).
        self.padding = ((kernel_f - 1) // 2, kernel_f // 2, kernel_t - 1, 0)
        self.conv = nn.Conv2d(c_in, c_out, (kernel_t, kernel_f))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        require_shape(x, (None, self.in_channels, None, None), f"input [B, C={self.in_channels}, T, F]")
        return self.conv(F.pad(x, self.padding))


def _frame_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """[B, frames] bool, True for frames before each row's length."""
    return torch.arange(frames, device=lengths.device) < lengths.unsqueeze(1)


class VGGBlock(nn.Module):
    """Two causal 3x3 convs (each + optional BatchNorm + ReLU), then 2x2 max-pooling over time and frequency
    (odd sizes round up). Pooled frame t is the max over frames 2t and 2t+1, so it sees input frames up to
    2t+1 only. Frames at or past a row's length are zeroed before pooling: the causal convs never see them
    for valid frames and, after the ReLU, zero never wins a max, so valid outputs ignore the padding."""

    def __init__(self, c_in: int, c_out: int, batch_norm: bool = False):
        super().__init__()
        layers: list[nn.Module] = []
        for c in (c_in, c_out):
            layers.append(CausalConv2d(c, c_out))
            if batch_norm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.ReLU())
        self.convs = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, C, T, F], lengths [B] -> (pooled [B, c_out, ceil(T/2), ceil(F/2)], lengths ceil(lengths/2))."""
        y = self.convs(x) * _frame_mask(lengths, x.shape[2])[:, None, :, None]
        return F.max_pool2d(y, 2, 2, ceil_mode=True), (lengths + 1) // 2


class SpeechEncoder(nn.Module):
    """Speech encoder (paper Fig. 4): VGG blocks of causal convolutions on filter-bank features, a linear
    projection of (channels x remaining bins) to ``dim``, learned position embeddings, pre-LN transformer.

    Causality of the convolutional front end (``conv_features``), with n = len(channels) blocks: output
    frame u depends only on input frames t < (u + 1) * 2**n, i.e. the 2**n frames it downsamples and the
    past (n = 2: frames <= 4u + 3). It holds with BatchNorm only in eval mode (training-mode BatchNorm
    uses statistics over all frames). The transformer after it attends in both directions."""

    def __init__(self, num_bins: int = 40, dim: int = 96, channels: tuple[int, ...] = (32, 64), layers: int = 2,
                 heads: int = 4, max_frames: int = 400, batch_norm: bool = False, dropout: float = 0.1,
                 ffn: int | None = None):
        super().__init__()
        check_heads(dim, heads)
        if not channels:
            raise ValueError("channels must name at least one VGG block")
        self.num_bins, self.dim, self.max_frames = num_bins, dim, max_frames
        self.stride = 2 ** len(channels)
        widths = (1, *channels)
        self.blocks = nn.ModuleList(VGGBlock(c_in, c_out, batch_norm) for c_in, c_out in zip(widths, widths[1:]))
        self.project = nn.Linear(channels[-1] * _halve(num_bins, len(channels)), dim)
        self.positions = nn.Embedding(self.output_lengths(max_frames), dim)
        self.dropout = nn.Dropout(dropout)
        self.transformer = MaskedTransformer(dim, layers, heads, ffn, dropout, pre_norm=True)

    def output_lengths(self, lengths):
        """Frames left after the time downsampling: ceil(lengths / 2**blocks) (tensor or int)."""
        return (lengths + self.stride - 1) // self.stride

    def _check(self, feats: torch.Tensor, lengths: torch.Tensor) -> None:
        require_shape(feats, (None, None, self.num_bins), f"speech features [B, T, num_bins={self.num_bins}]")
        batch, frames = feats.shape[:2]
        if not 1 <= frames <= self.max_frames:
            raise ValueError(f"speech of {frames} frames is outside [1, max_frames={self.max_frames}]; "
                             "crop or split it")
        require_shape(lengths, (batch,), f"lengths [B={batch}]")
        require_integer(lengths, "lengths")
        if lengths.min() < 0 or lengths.max() > frames:
            raise ValueError(f"lengths must lie in [0, T={frames}]")

    def conv_features(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The VGG front end: feats [B, T, num_bins] -> (frames [B, T', channels[-1] * bins'], lengths [B])."""
        self._check(feats, lengths)
        x = feats.unsqueeze(1)  # [B, 1, T, F]
        for block in self.blocks:
            x, lengths = block(x, lengths)
        return x.permute(0, 2, 1, 3).flatten(2), lengths

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """feats [B, T, num_bins], lengths [B] long -> (features [B, T', dim], mask [B, T']),
        T' = ceil(T / 2**blocks), mask True for frames before ``output_lengths(lengths)``."""
        frames, out_lengths = self.conv_features(feats, lengths)
        positions = torch.arange(frames.shape[1], device=frames.device)
        mask = _frame_mask(out_lengths, frames.shape[1])
        features = self.transformer(self.dropout(self.project(frames) + self.positions(positions)), mask)
        return features, mask


# --- video ---------------------------------------------------------------------------------------

class VideoEncoder(nn.Module):
    """ViViT-style video encoder (paper Fig. 5) with factorised self-attention (ViViT "model 3").

    Clips [B, frames, C, H, W] are cut into non-overlapping tubelets (t, h, w), each linearly embedded
    (Conv3d with kernel = stride = tubelet) into a grid [B, n_t, n_s, dim], n_s = n_h * n_w, plus learned
    position embeddings over all L_V = n_t * n_s tokens (eq. 8). Each layer is a spatial block (attention
    among the n_s tokens of one time index) then a temporal block (attention among the n_t tokens of one
    spatial location); both are pre-LN transformer layers, followed by a final LayerNorm."""

    def __init__(self, frames: int = 8, size: int | tuple[int, int] = 32, in_channels: int = 1,
                 tubelet: tuple[int, int, int] = (2, 8, 8), dim: int = 96, layers: int = 2, heads: int = 4,
                 dropout: float = 0.1, ffn: int | None = None):
        super().__init__()
        check_heads(dim, heads)
        height, width = (size, size) if isinstance(size, int) else size
        if frames % tubelet[0] or height % tubelet[1] or width % tubelet[2]:
            raise ValueError(f"clip {frames}x{height}x{width} (frames x H x W) must split evenly into "
                             f"tubelets {tuple(tubelet)}")
        self.frames, self.size, self.in_channels, self.dim = frames, (height, width), in_channels, dim
        self.n_t, self.n_s = frames // tubelet[0], (height // tubelet[1]) * (width // tubelet[2])
        self.embed_tubelets = nn.Conv3d(in_channels, dim, tubelet, stride=tubelet)
        self.positions = nn.Parameter(torch.empty(self.n_t, self.n_s, dim))
        nn.init.trunc_normal_(self.positions, std=0.02)
        self.dropout = nn.Dropout(dropout)
        self.spatial = nn.ModuleList(transformer_layer(dim, heads, ffn, dropout, True) for _ in range(layers))
        self.temporal = nn.ModuleList(transformer_layer(dim, heads, ffn, dropout, True) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    @property
    def num_tokens(self) -> int:
        """L_V = n_t * n_s."""
        return self.n_t * self.n_s

    def embed(self, clips: torch.Tensor) -> torch.Tensor:
        """clips [B, frames, C, H, W] -> tubelet tokens with positions [B, n_t, n_s, dim]."""
        require_shape(clips, (None, self.frames, self.in_channels, *self.size),
                      f"clips [B, frames={self.frames}, C={self.in_channels}, H={self.size[0]}, W={self.size[1]}]")
        tokens = self.embed_tubelets(clips.transpose(1, 2))  # [B, dim, n_t, n_h, n_w]
        tokens = tokens.flatten(3).permute(0, 2, 3, 1)  # [B, n_t, n_s, dim], spatial index in raster order
        return self.dropout(tokens + self.positions)

    def spatial_attention(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """Spatial block ``layer`` on [B, n_t, n_s, dim]: tokens attend within their time index."""
        batch = x.shape[0]
        return self.spatial[layer](x.reshape(batch * self.n_t, self.n_s, self.dim)).view_as(x)

    def temporal_attention(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """Temporal block ``layer`` on [B, n_t, n_s, dim]: tokens attend within their spatial location."""
        batch = x.shape[0]
        by_location = x.transpose(1, 2).reshape(batch * self.n_s, self.n_t, self.dim)
        return self.temporal[layer](by_location).view(batch, self.n_s, self.n_t, self.dim).transpose(1, 2)

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """clips [B, frames, C, H, W] -> (features [B, n_t * n_s, dim] time-major, mask all True)."""
        x = self.embed(clips)
        for layer in range(len(self.spatial)):
            x = self.temporal_attention(self.spatial_attention(x, layer), layer)
        features = self.norm(x).flatten(1, 2)
        return features, _all_valid(features)


# ---- the U-DeepSC / T-DeepSC comparisons: plain transformers, no causal convolutions, no factorisation ----
class PatchTransformerEncoder(nn.Module):
    """U-DeepSC-style patch transformer (a comparison, not MFMSC) for images [B, C, H, W] or video [B, F, C, H, W] (frames as images)."""

    def __init__(self, in_channels: int, size: int, patch: int, dim: int, layers: int, heads: int, frames: int = 1):
        super().__init__()
        self.grid = -(-size // patch)
        self.size, self.frames, self.in_channels = size, frames, in_channels
        self.patch = nn.Conv2d(in_channels, dim, patch, stride=patch, padding=(self.grid * patch - size + 1) // 2)
        self.position = nn.Parameter(torch.zeros(1, frames * self.grid * self.grid, dim))
        nn.init.trunc_normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, 0.1, activation="gelu", batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        video = x.dim() == 5
        expected = (self.frames, self.in_channels, self.size, self.size) if video else (self.in_channels, self.size, self.size)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected input [B, {', '.join(map(str, expected))}], got {tuple(x.shape)}")
        frames = x.reshape(-1, *x.shape[-3:])
        tokens = self.patch(frames).flatten(2).transpose(1, 2)              # [B*F, g*g, P]
        tokens = tokens.reshape(x.shape[0], -1, tokens.shape[-1]) + self.position
        out = self.transformer(tokens)
        return out, torch.ones(out.shape[:2], dtype=torch.bool, device=out.device)


class FrameTransformerEncoder(nn.Module):
    """U-DeepSC-style speech encoder (a comparison, not MFMSC): 4 stacked filter-bank frames per token, then a transformer."""

    STACK = 4

    def __init__(self, num_bins: int, dim: int, layers: int, heads: int, max_frames: int):
        super().__init__()
        self.num_bins = num_bins
        self.project = nn.Linear(self.STACK * num_bins, dim)
        self.position = nn.Parameter(torch.zeros(1, -(-max_frames // self.STACK), dim))
        nn.init.trunc_normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, 0.1, activation="gelu", batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return torch.div(lengths + self.STACK - 1, self.STACK, rounding_mode="floor")

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if feats.dim() != 3 or feats.shape[2] != self.num_bins:
            raise ValueError(f"expected filter banks [B, T, {self.num_bins}], got {tuple(feats.shape)}")
        pad = (-feats.shape[1]) % self.STACK
        x = F.pad(feats, (0, 0, 0, pad)).reshape(feats.shape[0], -1, self.STACK * self.num_bins)
        if x.shape[1] > self.position.shape[1]:
            raise ValueError(f"{feats.shape[1]} frames exceed the encoder's maximum")
        out_len = self.output_lengths(lengths).clamp(1, x.shape[1])
        mask = torch.arange(x.shape[1], device=x.device)[None] < out_len[:, None]
        out = self.transformer(self.project(x) + self.position[:, :x.shape[1]], src_key_padding_mask=~mask)
        return out, mask
