"""MFMSC networks (Section IV of the MFMSC paper): fusion invariances and embeddings, causal speech front
end, factorised video attention, BERT-style text encoder, channel codec, task heads, padding and shape
checks."""

from __future__ import annotations

import pytest
import torch

from semcom_core.models.mfmsc import (CausalConv2d, ChannelDecoder, ChannelEncoder, FusionModule, ImageEncoder,
                                      PatchImageHead, PooledHead, SpeechEncoder, TaskEmbedding, TextEncoder,
                                      TokenHead, VideoEncoder, masked_mean)

DIM = 24  # with 12 heads: 2 dims per head


def _fusion(**kwargs) -> FusionModule:
    torch.manual_seed(0)
    return FusionModule(dim=DIM, layers=2, heads=12, **kwargs).eval()


def _modality(batch: int, length: int, valid: list[int] | None = None):
    """Random features [B, L, DIM] with the first valid[b] tokens of row b valid (all when None)."""
    features = torch.randn(batch, length, DIM)
    lengths = torch.tensor(valid if valid is not None else [length] * batch)
    return features, torch.arange(length) < lengths[:, None]


def _task(batch: int, task_ids=None) -> torch.Tensor:
    torch.manual_seed(1)
    return TaskEmbedding(3, DIM)(torch.tensor(task_ids if task_ids is not None else [0] * batch))


# --- fusion --------------------------------------------------------------------------------------

@pytest.mark.parametrize("lengths", [(16, 7), (4, 30)])
def test_fusion_gives_one_vector_whatever_the_lengths(lengths):
    fusion = _fusion()
    modalities = [_modality(3, lengths[0]), _modality(3, lengths[1], valid=[lengths[1], 2, 1])]
    with torch.no_grad():
        fused = fusion(modalities, [0, 1], _task(3))
    assert fused.shape == (3, DIM)
    assert torch.isfinite(fused).all()


def test_fusion_is_invariant_to_token_order_within_and_across_modalities():
    fusion = _fusion()
    torch.manual_seed(2)
    image, text = _modality(2, 16), _modality(2, 7, valid=[7, 4])
    task = _task(2, [0, 2])
    with torch.no_grad():
        reference = fusion([image, text], [0, 1], task)
        order = torch.randperm(7)  # moves padding positions along with their features
        shuffled_text = (text[0][:, order], text[1][:, order])
        shuffled_image = (image[0][:, torch.randperm(16)], image[1])
        within = fusion([shuffled_image, shuffled_text], [0, 1], task)
        across = fusion([shuffled_text, shuffled_image], [1, 0], task)
    torch.testing.assert_close(within, reference, atol=1e-5, rtol=0)
    torch.testing.assert_close(across, reference, atol=1e-5, rtol=0)


def test_fusion_ignores_padded_tokens():
    fusion = _fusion()
    torch.manual_seed(3)
    image, (text, text_mask) = _modality(2, 16), _modality(2, 5, valid=[5, 3])
    task = _task(2)
    padded_text = torch.cat([text, 100 * torch.randn(2, 6, DIM)], dim=1)
    padded_mask = torch.cat([text_mask, torch.zeros(2, 6, dtype=torch.bool)], dim=1)
    garbage_in_padding = text.clone()
    garbage_in_padding[1, 3:] = torch.randn(2, DIM)
    with torch.no_grad():
        reference = fusion([image, (text, text_mask)], [0, 1], task)
        appended = fusion([image, (padded_text, padded_mask)], [0, 1], task)
        replaced = fusion([image, (garbage_in_padding, text_mask)], [0, 1], task)
    torch.testing.assert_close(appended, reference, atol=1e-5, rtol=0)
    torch.testing.assert_close(replaced, reference, atol=1e-5, rtol=0)


def test_fusion_depends_on_segments_and_task():
    fusion = _fusion()
    torch.manual_seed(4)
    modalities = [_modality(2, 6), _modality(2, 5)]
    with torch.no_grad():
        reference = fusion(modalities, [0, 1], _task(2, [0, 0]))
        swapped_segments = fusion(modalities, [1, 0], _task(2, [0, 0]))
        other_task = fusion(modalities, [0, 1], _task(2, [1, 1]))
    assert (swapped_segments - reference).abs().max() > 1e-3
    assert (other_task - reference).abs().max() > 1e-3


def test_gradient_reaches_every_fusion_parameter():
    fusion = _fusion(num_segments=2).train()
    modalities = [_modality(2, 4, valid=[4, 2]), _modality(2, 3)]
    fused = fusion(modalities, [0, 1], _task(2))
    # A weighted sum: a plain sum of LayerNorm outputs would carry no gradient into the layers.
    loss = (fused * torch.randn_like(fused)).sum()
    loss.backward()
    for name, parameter in fusion.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_fusion_rejects_bad_inputs():
    with pytest.raises(ValueError, match="multiple of heads"):
        FusionModule(dim=20, heads=12)
    fusion = _fusion()
    task, good = _task(2), _modality(2, 4)
    with pytest.raises(ValueError, match=r"\[B=2, L, dim=24\]"):
        fusion([(torch.randn(2, 4, 8), good[1])], [0], task)
    with pytest.raises(ValueError, match="mask"):
        fusion([(good[0], torch.ones(2, 5, dtype=torch.bool))], [0], task)
    with pytest.raises(ValueError, match="bool"):
        fusion([(good[0], good[1].float())], [0], task)
    with pytest.raises(ValueError, match="segment"):
        fusion([good], [4], task)
    with pytest.raises(ValueError, match="one segment id per modality"):
        fusion([good, good], [0], task)
    with pytest.raises(ValueError, match=r"task token \[B, 1, dim=24\]"):
        fusion([good], [0], task.squeeze(1))


def test_masked_mean():
    x = torch.arange(12.0).view(2, 3, 2)
    mask = torch.tensor([[True, False, True], [False, False, False]])
    torch.testing.assert_close(masked_mean(x, mask), torch.tensor([[2.0, 3.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"mask \[B=2, L=3\]"):
        masked_mean(x, mask[:, :2])


# --- speech --------------------------------------------------------------------------------------

def _changed_frames(before: torch.Tensor, after: torch.Tensor, time_axis: int) -> torch.Tensor:
    """Indices along ``time_axis`` where the two outputs differ."""
    other_axes = [a for a in range(before.ndim) if a != time_axis]
    return ((before - after).abs().amax(dim=other_axes) > 1e-6).nonzero().flatten()


def test_causal_conv_never_looks_ahead():
    torch.manual_seed(5)
    conv = CausalConv2d(2, 3, kernel=(3, 5))
    x = torch.randn(1, 2, 12, 9)
    with torch.no_grad():
        y = conv(x)
        assert y.shape == (1, 3, 12, 9)
        for t in range(12):
            future = x.clone()
            future[:, :, t + 1:] += torch.randn_like(future[:, :, t + 1:])
            assert all(u > t for u in _changed_frames(y, conv(future), 2).tolist())
            present = x.clone()
            present[:, :, t] += torch.randn_like(present[:, :, t])
            assert _changed_frames(y, conv(present), 2).min() == t


@pytest.mark.parametrize("batch_norm", [False, True])
def test_speech_front_end_sees_only_its_window_and_the_past(batch_norm):
    """Two blocks: output frame u depends on input frames <= 4u + 3 only, and on frame 4u + 3 itself."""
    torch.manual_seed(6)
    encoder = SpeechEncoder(num_bins=8, dim=DIM, channels=(4, 6), layers=1, heads=2, max_frames=32,
                            batch_norm=batch_norm).eval()
    feats, lengths = torch.randn(1, 17, 8), torch.tensor([17])
    with torch.no_grad():
        frames, out_lengths = encoder.conv_features(feats, lengths)
        assert frames.shape == (1, 5, 6 * 2) and out_lengths.tolist() == [5]
        for t in range(17):
            future = feats.clone()
            future[:, t + 1:] += 3 * torch.randn_like(future[:, t + 1:])
            changed = _changed_frames(frames, encoder.conv_features(future, lengths)[0], 1)
            assert all(4 * u + 3 > t for u in changed.tolist())
            present = feats.clone()
            present[:, t] += 3 * torch.randn_like(present[:, t])
            assert t // 4 in _changed_frames(frames, encoder.conv_features(present, lengths)[0], 1).tolist()


def test_speech_encoder_shapes_mask_and_padding():
    torch.manual_seed(7)
    encoder = SpeechEncoder(num_bins=8, dim=DIM, channels=(4, 6), layers=1, heads=2, max_frames=32).eval()
    feats = torch.randn(2, 13, 8)
    lengths = torch.tensor([13, 6])
    assert encoder.output_lengths(lengths).tolist() == [4, 2] and encoder.output_lengths(13) == 4
    with torch.no_grad():
        features, mask = encoder(feats, lengths)
        assert features.shape == (2, 4, DIM)
        assert mask.tolist() == [[True] * 4, [True, True, False, False]]
        # Row 1 alone, cut to its 6 frames: its valid outputs do not see the padding that followed.
        alone, _ = encoder(feats[1:, :6], lengths[1:])
    torch.testing.assert_close(features[1, :2], alone[0], atol=1e-5, rtol=0)


def test_speech_encoder_rejects_bad_inputs():
    encoder = SpeechEncoder(num_bins=8, dim=DIM, channels=(4,), layers=1, heads=2, max_frames=16)
    with pytest.raises(ValueError, match=r"\[B, T, num_bins=8\]"):
        encoder(torch.randn(2, 10, 7), torch.tensor([10, 10]))
    with pytest.raises(ValueError, match="max_frames=16"):
        encoder(torch.randn(1, 17, 8), torch.tensor([17]))
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, T=10\]"):
        encoder(torch.randn(1, 10, 8), torch.tensor([11]))
    with pytest.raises(ValueError, match="integer"):
        encoder(torch.randn(1, 10, 8), torch.tensor([10.0]))
    with pytest.raises(ValueError, match=r"\[B, C=2, T, F\]"):
        CausalConv2d(2, 3)(torch.randn(1, 3, 5, 5))


# --- video ---------------------------------------------------------------------------------------

def _video() -> VideoEncoder:
    torch.manual_seed(8)
    return VideoEncoder(frames=4, size=16, in_channels=1, tubelet=(2, 8, 8), dim=DIM, layers=1, heads=2).eval()


def test_video_encoder_output_and_tubelet_tokens():
    encoder = _video()  # n_t = 2, n_s = 4
    clips = torch.rand(2, 4, 1, 16, 16)
    with torch.no_grad():
        features, mask = encoder(clips)
        assert features.shape == (2, 8, DIM) and mask.all() and encoder.num_tokens == 8
        tokens = encoder.embed(clips)
        changed = clips.clone()
        changed[0, 2:4, :, 0:8, 8:16] += torch.rand(2, 1, 8, 8)  # tubelet at time index 1, spatial index 1
        diff = (encoder.embed(changed) - tokens).abs().amax(-1)
    assert diff.shape == (2, 2, 4)
    assert (diff > 0).nonzero().tolist() == [[0, 1, 1]]


def test_video_attention_is_factorised():
    encoder = _video()
    torch.manual_seed(9)
    x = torch.randn(1, 2, 4, DIM)
    perturbed = x.clone()
    perturbed[0, 1, 2] += torch.randn(DIM)  # time index 1, location 2 (not a constant: LayerNorm removes it)
    with torch.no_grad():
        spatial = (encoder.spatial_attention(perturbed, 0) - encoder.spatial_attention(x, 0)).abs().amax(-1)
        temporal = (encoder.temporal_attention(perturbed, 0) - encoder.temporal_attention(x, 0)).abs().amax(-1)
    assert ((spatial > 1e-6) == torch.tensor([[[False] * 4, [True] * 4]])).all()  # whole time index 1 only
    assert ((temporal > 1e-6) == torch.tensor([[[False, False, True, False]] * 2])).all()  # location 2 only


def test_video_encoder_rejects_bad_clips():
    encoder = _video()
    with pytest.raises(ValueError, match=r"frames=4, C=1, H=16, W=16"):
        encoder(torch.rand(1, 5, 1, 16, 16))
    with pytest.raises(ValueError, match=r"frames=4, C=1, H=16, W=16"):
        encoder(torch.rand(1, 4, 1, 16, 24))
    with pytest.raises(ValueError, match="tubelets"):
        VideoEncoder(frames=5, size=16, tubelet=(2, 8, 8), dim=DIM, heads=2)


# --- text ----------------------------------------------------------------------------------------

def _text(**kwargs) -> TextEncoder:
    torch.manual_seed(10)
    return TextEncoder(vocab_size=30, dim=DIM, layers=2, heads=2, max_len=12, **kwargs).eval()


def test_text_padding_does_not_change_valid_outputs():
    encoder = _text()
    ids = torch.tensor([[5, 9, 3, 7, 2]])
    padded = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], dim=1)
    with torch.no_grad():
        features, mask = encoder(ids)
        padded_features, padded_mask = encoder(padded)
    assert padded_mask.tolist() == [[True] * 5 + [False] * 4]
    torch.testing.assert_close(padded_features[:, :5], features, atol=1e-5, rtol=0)


def test_text_position_embeddings_make_order_matter():
    encoder = _text()
    ids = torch.tensor([[5, 9, 3, 7, 2]])
    order = torch.tensor([4, 2, 0, 1, 3])
    with torch.no_grad():
        features, _ = encoder(ids)
        assert (encoder(ids[:, order])[0] - features[:, order]).abs().max() > 1e-3
        encoder.positions.weight.zero_()  # control: without positions the encoder only permutes its output
        features, _ = encoder(ids)
        torch.testing.assert_close(encoder(ids[:, order])[0], features[:, order], atol=1e-5, rtol=0)


def test_text_encoder_rejects_bad_ids():
    encoder = _text()
    with pytest.raises(ValueError, match=r"vocab_size=30"):
        encoder(torch.tensor([[1, 30]]))
    with pytest.raises(ValueError, match=r"vocab_size=30"):
        encoder(torch.tensor([[-1, 3]]))
    with pytest.raises(ValueError, match="max_len=12; truncate"):
        encoder(torch.ones(1, 13, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token ids \[B, L\]"):
        encoder(torch.ones(2, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        encoder(torch.ones(1, 3))
    with pytest.raises(ValueError, match="segment"):
        encoder(torch.ones(1, 3, dtype=torch.long), segment_ids=torch.full((1, 3), 2))


@pytest.mark.parametrize("training", [False, True])
def test_all_padding_rows_stay_finite(training):
    """Policy: an all-padding row is allowed; its features are finite, its mask all False, and pooling
    over it gives zeros (heads) or just the other tokens (fusion). Evaluation runs without autograd, as at
    inference, which takes torch's fused attention path (the one that returns NaN for a fully masked row)."""
    text = _text().train(training)
    speech = SpeechEncoder(num_bins=8, dim=DIM, channels=(4,), layers=1, heads=2, max_frames=16).train(training)
    fusion, head = _fusion().train(training), PooledHead(DIM, 3)
    ids = torch.tensor([[4, 5, 6, 0], [0, 0, 0, 0]])
    with torch.set_grad_enabled(training):
        text_features, text_mask = text(ids)
        speech_features, speech_mask = speech(torch.randn(2, 10, 8), torch.tensor([10, 0]))
        pooled = head(text_features, text_mask)
        fused = fusion([(text_features, text_mask), (speech_features, speech_mask)], [1, 2], _task(2))
    assert text_mask[1].sum() == 0 and speech_mask[1].sum() == 0
    for output in (text_features, speech_features, pooled, fused):
        assert torch.isfinite(output).all()


# --- image, codec, heads -------------------------------------------------------------------------

@pytest.mark.parametrize("size, grid", [(28, (4, 4)), (32, (4, 4)), (9, (2, 2))])
def test_image_encoder_tokens(size, grid):
    torch.manual_seed(11)
    encoder = ImageEncoder(in_channels=1, dim=DIM, width=4, downsample=8)
    assert encoder.grid(size, size) == grid
    features, mask = encoder(torch.rand(2, 1, size, size))
    assert features.shape == (2, grid[0] * grid[1], DIM) and mask.shape == features.shape[:2] and mask.all()


def test_image_encoder_rejects_bad_inputs():
    encoder = ImageEncoder(in_channels=3, dim=DIM, width=4)
    with pytest.raises(ValueError, match=r"images \[B, C=3, H, W\]"):
        encoder(torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"images \[B, C=3, H, W\]"):
        encoder(torch.rand(3, 28, 28))
    with pytest.raises(ValueError, match="power of two"):
        ImageEncoder(downsample=6)


@pytest.mark.parametrize("shape", [(3, DIM), (3, 5, DIM)])
def test_channel_codec_shapes(shape):
    encoder, decoder = ChannelEncoder(DIM, 16, 8), ChannelDecoder(8, 16, DIM)
    symbols = encoder(torch.randn(shape))
    assert symbols.shape == (*shape[:-1], 8)
    assert decoder(symbols).shape == shape
    with pytest.raises(ValueError, match=rf"\[B, {DIM}\] or \[B, L, {DIM}\]"):
        encoder(torch.randn(*shape[:-1], DIM + 1))
    with pytest.raises(ValueError, match=r"\[B, 8\] or \[B, L, 8\]"):
        decoder(torch.randn(2, 3, 4, 8))


def test_pooled_and_token_heads():
    torch.manual_seed(12)
    x, mask = torch.randn(2, 5, DIM), torch.tensor([[True] * 5, [True, True, False, False, False]])
    for head in (PooledHead(DIM, 7), PooledHead(DIM, 7, hidden=16)):
        logits = head(x, mask)
        assert logits.shape == (2, 7)
        noisy = x.clone()
        noisy[1, 2:] = torch.randn(3, DIM)
        torch.testing.assert_close(head(noisy, mask), logits)  # padding ignored
        assert head(x[:, :1]).shape == (2, 7)  # a fused vector as L = 1
    assert TokenHead(DIM, 11)(x, mask).shape == (2, 5, 11)
    with pytest.raises(ValueError, match=r"\[B, L, dim=24\]"):
        PooledHead(DIM, 7)(x[:, 0])
    with pytest.raises(ValueError, match="mask"):
        TokenHead(DIM, 11)(x, mask[:, :3])


def test_patch_image_head_tiles_tokens_in_raster_order():
    torch.manual_seed(13)
    head = PatchImageHead(DIM, grid=(4, 4), image=(1, 28, 28))
    tokens = torch.randn(2, 16, DIM)
    images = head(tokens)
    assert images.shape == (2, 1, 28, 28)
    assert images.min() >= 0 and images.max() <= 1
    changed = tokens.clone()
    changed[0, 6] += torch.randn(DIM)  # grid row 1, column 2 -> pixels 7..13 x 14..20
    diff = (head(changed) - images).abs()[0, 0] > 0
    expected = torch.zeros(28, 28, dtype=torch.bool)
    expected[7:14, 14:21] = True
    assert (diff == expected).all()
    # 30x30 from a 4x4 grid: 8x8 patches cropped back to 30x30.
    assert PatchImageHead(DIM, grid=(4, 4), image=(3, 30, 30))(tokens).shape == (2, 3, 30, 30)
    with pytest.raises(ValueError, match=r"grid_h\*grid_w=16"):
        head(tokens[:, :15])


def test_task_embedding():
    embedding = TaskEmbedding(3, DIM)
    assert embedding(torch.tensor([0, 2])).shape == (2, 1, DIM)
    with pytest.raises(ValueError, match="num_tasks=3"):
        embedding(torch.tensor([3]))
    with pytest.raises(ValueError, match=r"task ids \[B\]"):
        embedding(torch.tensor([[0]]))
