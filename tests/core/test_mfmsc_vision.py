"""MFMSC vision data: the embedded generators (real Fashion-MNIST and fortunes) and the readers of
standard formats (VQA v2, MM-IMDb, HMDB51) on small files written in those formats."""

from __future__ import annotations

import json
import re
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from semcom_core.data.common import DatasetError
from semcom_core.data.fashion_mnist import DEFAULT_ROOT
from semcom_core.data.mfmsc import formats, vision
from semcom_core.data.mfmsc.text import read_fortunes

FORTUNES = Path("/usr/share/games/fortunes")
needs_fmnist = pytest.mark.skipif(not DEFAULT_ROOT.is_dir(), reason="dataset-fashion-mnist not installed")
needs_fortunes = pytest.mark.skipif(not (FORTUNES / "computers").is_file(), reason="fortunes not installed")
GENERATORS = {"moving_clips": lambda split, n, seed: vision.moving_clips(split, n, seed),
              "vqa_scenes": vision.vqa_scenes,
              "posters": vision.posters}


# ---- Fashion-MNIST and determinism --------------------------------------------------------------------
@needs_fmnist
def test_fmnist_split_is_float_in_unit_range():
    images, labels = vision.fmnist_split("test")
    assert images.shape == (10000, 1, 28, 28) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.9
    assert labels.dtype == np.int64 and set(np.unique(labels)) == set(range(10))


def test_fmnist_split_missing_names_the_package(tmp_path):
    with pytest.raises(DatasetError, match="dataset-fashion-mnist"):
        vision.fmnist_split("train", tmp_path / "nothing")


@needs_fmnist
@needs_fortunes
@pytest.mark.parametrize("name", GENERATORS)
def test_generators_are_deterministic_per_seed(name):
    first, again, other = (GENERATORS[name]("train", 30, seed) for seed in (3, 3, 4))
    for a, b, c in zip(first, again, other):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b
    assert not np.array_equal(first[0], other[0])


@needs_fmnist
def test_generators_reject_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        vision.vqa_scenes("val", 3, 0)
    with pytest.raises(ValueError, match="n "):
        vision.moving_clips("train", -1, 0)
    with pytest.raises(ValueError, match="frames"):
        vision.moving_clips("train", 3, 0, frames=1)


# ---- moving clips -------------------------------------------------------------------------------------
@needs_fmnist
def test_moving_clips_shapes_ranges_and_balance():
    clips, labels, actions = vision.moving_clips("test", 60, 0, frames=5, size=24, item_size=12)
    assert clips.shape == (60, 5, 1, 24, 24) and clips.dtype == np.float32
    assert 0.0 <= clips.min() and clips.max() <= 1.0
    assert actions == vision.ACTIONS and labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(labels, minlength=6), [10] * 6)
    assert (clips.reshape(60, 5, -1).sum(-1) > 1.0).all(), "every frame shows its item"


def _nearest_class_mean(train_x, train_y, test_x, test_y, standardise=False) -> float:
    """Accuracy of the nearest-class-mean classifier fitted on (train_x, train_y)."""
    if standardise:
        mean, std = train_x.mean(0), train_x.std(0) + 1e-6
        train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    means = np.stack([train_x[train_y == c].mean(0) for c in range(len(vision.ACTIONS))])
    predicted = ((test_x[:, None] - means[None]) ** 2).sum(-1).argmin(1)
    return float((predicted == test_y).mean())


# Shifts (rows, cols) of one frame step of the translations (3/4 of 32 pixels over 7 steps is ~3.4).
SHIFTS = {"right": (0, 3), "left": (0, -3), "up": (-3, 0), "down": (3, 0)}


def _motion_features(clips: np.ndarray) -> np.ndarray:
    """Two-frame features: how much of the difference of frames 0 and 1 each shift explains, and the
    relative change of brightness (growth)."""
    first, second = clips[:, 0, 0], clips[:, 1, 0]
    unexplained = ((second - first) ** 2).sum((1, 2)) + 1e-6
    residuals = [((second - np.roll(first, shift, axis=(1, 2))) ** 2).sum((1, 2)) / unexplained
                 for shift in SHIFTS.values()]
    growth = (second.sum((1, 2)) - first.sum((1, 2))) / (first.sum((1, 2)) + 1e-6)
    return np.stack(residuals + [growth], axis=1)


@needs_fmnist
def test_action_needs_two_frames():
    train = vision.moving_clips("train", 1800, 0)
    test = vision.moving_clips("test", 900, 1)
    chance = 1 / len(vision.ACTIONS)
    for frame in range(8):
        accuracy = _nearest_class_mean(train.clips[:, frame].reshape(1800, -1), train.labels,
                                       test.clips[:, frame].reshape(900, -1), test.labels)
        assert accuracy < chance + 0.12, f"frame {frame} alone tells the action ({accuracy:.2f})"
    motion = _nearest_class_mean(_motion_features(train.clips), train.labels, _motion_features(test.clips),
                                 test.labels, standardise=True)
    assert motion > 0.8


@needs_fmnist
def test_actions_move_the_way_they_are_named():
    clips, labels, actions = vision.moving_clips("test", 120, 5)
    best_shift = _motion_features(clips)[:, :4].argmin(1)
    for index, name in enumerate(SHIFTS):
        assert (best_shift[labels == actions.index(name)] == index).all(), name
    brightness = clips.sum((2, 3, 4))
    zoom, rotate = labels == actions.index("zoom"), labels == actions.index("rotate")
    assert (np.diff(brightness[zoom], axis=1) > 0).all(), "zooming items grow"
    assert (np.abs(brightness[rotate, -1] / brightness[rotate, 0] - 1) < 0.15).all()
    turned = np.abs(clips[rotate] - clips[rotate, :1]).sum((2, 3, 4)).max(1)
    assert (turned > 0.2 * brightness[rotate, 0]).all(), "rotating items turn"


# ---- fitting clips to a number of frames --------------------------------------------------------------
def _ramp_clip(count: int) -> np.ndarray:
    """A clip [count, 1, 2, 2] whose frame i is filled with i."""
    return np.arange(count, dtype=np.float32)[:, None, None, None] * np.ones((1, 1, 2, 2), np.float32)


def test_fit_frames_samples_longer_clips_uniformly():
    fitted = vision.fit_frames(_ramp_clip(22), 8)
    np.testing.assert_array_equal(fitted[:, 0, 0, 0], [0, 3, 6, 9, 12, 15, 18, 21])
    np.testing.assert_array_equal(vision.fit_frames(_ramp_clip(8), 8), _ramp_clip(8))


def test_fit_frames_pads_shorter_clips_with_the_last_frame():
    np.testing.assert_array_equal(vision.fit_frames(_ramp_clip(5), 8)[:, 0, 0, 0], [0, 1, 2, 3, 4, 4, 4, 4])
    np.testing.assert_array_equal(vision.fit_frames(_ramp_clip(2), 8, min_frames=2)[:, 0, 0, 0],
                                  [0, 1, 1, 1, 1, 1, 1, 1])


def test_fit_frames_rejects_too_short_and_misshapen_clips():
    with pytest.raises(ValueError, match="clip has 3 frames; at least 4 needed"):
        vision.fit_frames(_ramp_clip(3), 8)
    with pytest.raises(ValueError, match=r"\[frames, channels, height, width\]"):
        vision.fit_frames(np.zeros((8, 32, 32)), 8)
    with pytest.raises(ValueError, match="empty"):
        vision.check_clip(np.zeros((8, 1, 0, 32)), 8)
    with pytest.raises(ValueError, match="min_frames"):
        vision.check_clip(_ramp_clip(8), 8, min_frames=9)
    vision.check_clip(_ramp_clip(4), 8)


# ---- VQA scenes and posters ---------------------------------------------------------------------------
def _cells(images: np.ndarray) -> np.ndarray:
    """[n, 4, 196] cells of 2x2 grid images [n, 1, 28, 28], in POSITIONS order."""
    n = len(images)
    return images.reshape(n, 2, 14, 2, 14).transpose(0, 1, 3, 2, 4).reshape(n, 4, 196)


def _cell_labels(images: np.ndarray, split: str) -> np.ndarray:
    """Labels [n, 4] of the ``split`` items shown in the cells (EMPTY for black cells), by exact match
    with the split's images downscaled by two; a cell matching no item of the split fails the test."""
    pool, labels = vision.fmnist_split(split)
    small = pool.reshape(-1, 14, 2, 14, 2).mean((2, 4)).reshape(len(pool), 196).astype(np.float64)
    cells = _cells(images).reshape(-1, 196).astype(np.float64)
    found = np.full(len(cells), vision.EMPTY)
    shown = cells.max(1) > 0
    distance = (cells[shown] ** 2).sum(1)[:, None] + (small ** 2).sum(1)[None] - 2 * cells[shown] @ small.T
    assert distance.min(1).max() < 1e-6, f"a cell shows no {split} item"
    found[shown] = labels[distance.argmin(1)]
    return found.reshape(len(images), 4)


def _answer(question: str, cells: np.ndarray) -> str:
    """The answer to a generated question about a scene with these cell classes."""
    names = vision.CLASS_NAMES
    if match := re.fullmatch(r"what is in the (.+)\?", question):
        cell = cells[vision.POSITIONS.index(match.group(1))]
        return "nothing" if cell == vision.EMPTY else names[cell]
    if match := re.fullmatch(r"is there a (.+) in the picture\?", question):
        return "yes" if names.index(match.group(1)) in cells else "no"
    match = re.fullmatch(r"how many (\w+) are there\?", question)
    return str(int(np.isin(cells, vision.COUNT_GROUPS[match.group(1)]).sum()))


@needs_fmnist
def test_vqa_answers_follow_from_the_drawn_scene():
    scene = vision.vqa_scenes("test", 240, 2)
    assert scene.images.shape == (240, 1, 28, 28) and scene.images.dtype == np.float32
    assert scene.answers.dtype == np.int64 and scene.answer_names == vision.ANSWERS
    np.testing.assert_array_equal(_cell_labels(scene.images, "test"), scene.cell_classes)
    for question, answer, cells in zip(scene.questions, scene.answers, scene.cell_classes):
        assert scene.answer_names[answer] == _answer(question, cells), question
    assert ((scene.cell_classes == vision.EMPTY).sum(1) <= 1).all()
    np.testing.assert_array_equal(np.bincount(scene.question_kinds), [80, 80, 80])
    said = [scene.answer_names[a] for a in scene.answers]
    assert said.count("yes") == said.count("no") == 40
    assert "nothing" in said and {"0", "1", "2"} <= set(said)


@needs_fortunes
def test_fortune_halves_are_disjoint_and_complete():
    for topic in vision.DEFAULT_TOPICS:
        train, test = vision.split_fortunes(topic, "train"), vision.split_fortunes(topic, "test")
        assert train and test and not set(train) & set(test)
        everything = set(read_fortunes(topic))
        assert set(train) | set(test) == everything
        assert 0.4 < len(train) / len(everything) < 0.6


def _is_plot(text: str, halves: list[list[str]]) -> bool:
    """Whether ``text`` is one fortune of each half in ``halves``, in order, joined by spaces."""
    if not halves:
        return text == ""
    return any(text == fortune if len(halves) == 1 else text.startswith(fortune + " ")
               and _is_plot(text[len(fortune) + 1:], halves[1:]) for fortune in halves[0])


@needs_fmnist
@needs_fortunes
def test_poster_labels_match_items_and_topics():
    posters = vision.posters("test", 90, 4)
    topics = list(vision.DEFAULT_TOPICS)
    assert posters.label_names == tuple(vision.IMAGE_GROUPS) + tuple(topics)
    assert posters.targets.shape == (90, 8) and posters.targets.dtype == np.float32
    np.testing.assert_array_equal(_cell_labels(posters.images, "test"), posters.cell_classes)
    halves = [vision.split_fortunes(topic, "test") for topic in topics]
    for target, cells, topic_ids, text in zip(posters.targets, posters.cell_classes, posters.topic_ids,
                                              posters.texts):
        shown = cells[cells != vision.EMPTY]
        groups = [i for i, classes in enumerate(vision.IMAGE_GROUPS.values()) if np.isin(shown, classes).any()]
        assert len(shown) == len(groups) in (1, 2), "one item per group"
        told = [t for t in topic_ids if t != vision.EMPTY]
        assert len(told) in (1, 2) and _is_plot(text, [halves[t] for t in told])
        np.testing.assert_array_equal(np.flatnonzero(target), sorted(groups + [4 + t for t in told]))
    assert (posters.targets.sum(0) > 0).all(), "every label occurs"


# ---- standard formats: VQA v2 -------------------------------------------------------------------------
def _write_jpeg(path: Path, value: int, shape=(40, 60)) -> None:
    Image.fromarray(np.full((*shape, 3), value, np.uint8)).save(path, quality=95)


def _write_vqa(root: Path) -> tuple[Path, Path, Path]:
    """Questions about two images; answers "yes" x3, "2" x2, "red" x1."""
    images = root / "val2014"
    images.mkdir()
    _write_jpeg(images / "COCO_val2014_000000000042.jpg", 200)
    _write_jpeg(images / "mine_000000000007.jpg", 50)
    asked = [(1, 42, "is it?", "yes"), (2, 42, "how many?", "2"), (3, 7, "what colour?", "red"),
             (4, 7, "is it?", "yes"), (5, 7, "how many?", "2"), (6, 42, "and now?", "yes")]
    questions = {"questions": [{"question_id": q, "image_id": i, "question": text} for q, i, text, _ in asked]}
    annotations = {"annotations": [{"question_id": q, "image_id": i, "multiple_choice_answer": a,
                                    "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": 1}]}
                                   for q, i, _, a in asked]}
    (root / "questions.json").write_text(json.dumps(questions))
    (root / "annotations.json").write_text(json.dumps(annotations))
    return root / "questions.json", root / "annotations.json", images


def test_read_vqa_v2_keeps_the_top_answers(tmp_path):
    questions, annotations, images = _write_vqa(tmp_path)
    data = formats.read_vqa_v2(questions, annotations, images, top_k=2, size=8)
    assert data.answer_names == ["yes", "2"] and data.dropped == 1
    assert data.questions == ["is it?", "how many?", "is it?", "how many?", "and now?"]
    np.testing.assert_array_equal(data.answers, [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(data.image_ids, [42, 42, 7, 7, 42])
    assert data.images.shape == (5, 1, 8, 8) and data.images.dtype == np.float32
    np.testing.assert_allclose(data.images[:, 0, 4, 4], np.array([200, 200, 50, 50, 200]) / 255, atol=0.03)
    rgb = formats.read_vqa_v2(questions, annotations, images, answers=["red"], max_items=1, channels=3, size=6)
    assert rgb.images.shape == (1, 3, 6, 6) and rgb.questions == ["what colour?"] and rgb.dropped == 2


def test_read_vqa_v2_names_missing_and_corrupt_files(tmp_path):
    questions, annotations, images = _write_vqa(tmp_path)
    (images / "mine_000000000007.jpg").unlink()
    with pytest.raises(DatasetError, match="image 7 .*000000000007.jpg"):
        formats.read_vqa_v2(questions, annotations, images)
    annotations.write_text('{"annotations": [')
    with pytest.raises(DatasetError, match="annotations.json is not valid JSON"):
        formats.read_vqa_v2(questions, annotations, images)


# ---- standard formats: MM-IMDb ------------------------------------------------------------------------
def _write_mm_imdb(root: Path) -> None:
    movies = {"0001": (["A heist.", "Another plot."], ["Crime", "Drama"], 30),
              "0002": ("A space trip.", ["Sci-Fi"], 120),
              "0003": ([], ["Drama"], 200),
              "0004": (["A romance."], ["Romance", "Drama"], 250)}
    dataset = root / "dataset"
    dataset.mkdir()
    for movie, (plot, genres, value) in movies.items():
        (dataset / f"{movie}.json").write_text(json.dumps({"plot": plot, "genres": genres, "title": movie}))
        _write_jpeg(dataset / f"{movie}.jpeg", value, shape=(60, 40))
    (root / "split.json").write_text(json.dumps({"train": ["0001", "0002", "0003"], "dev": [], "test": ["0004"]}))


def test_read_mm_imdb_reads_plots_and_genres(tmp_path):
    _write_mm_imdb(tmp_path)
    train = formats.read_mm_imdb(tmp_path, split="train", size=10)
    assert train.ids == ["0001", "0002"] and train.dropped == 1, "the movie without a plot is dropped"
    assert train.plots == ["A heist.", "A space trip."] and train.genre_names == ["Crime", "Drama", "Sci-Fi"]
    np.testing.assert_array_equal(train.targets, [[1, 1, 0], [0, 0, 1]])
    assert train.images.shape == (2, 1, 10, 10)
    np.testing.assert_allclose(train.images[:, 0, 5, 5], np.array([30, 120]) / 255, atol=0.03)
    test = formats.read_mm_imdb(tmp_path, split="test", channels=3, genres=train.genre_names)
    assert test.images.shape == (1, 3, 28, 28) and test.plots == ["A romance."]
    np.testing.assert_array_equal(test.targets, [[0, 1, 0]])
    everything = formats.read_mm_imdb(tmp_path, genres=["Sci-Fi"], max_items=5)
    assert everything.ids == ["0002"] and everything.dropped == 3
    with pytest.raises(ValueError, match="split 'val' is not in"):
        formats.read_mm_imdb(tmp_path, split="val")


def test_read_mm_imdb_names_corrupt_and_missing_files(tmp_path):
    _write_mm_imdb(tmp_path)
    (tmp_path / "dataset" / "0002.json").write_text("{not json")
    with pytest.raises(DatasetError, match="0002.json is not valid JSON"):
        formats.read_mm_imdb(tmp_path, split="train")
    (tmp_path / "dataset" / "0004.jpeg").unlink()
    with pytest.raises(DatasetError, match="0004.jpeg not found"):
        formats.read_mm_imdb(tmp_path, split="test")
    with pytest.raises(DatasetError, match="dataset/<id>.json"):
        formats.read_mm_imdb(tmp_path / "nowhere")


# ---- standard formats: HMDB51 -------------------------------------------------------------------------
def _write_avi(path: Path, values: list[int], codec: str = "mpeg4") -> None:
    """A 32x32 AVI whose frame i is flat gray ``values[i]``."""
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for value in values:
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), value, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def test_read_hmdb51_fits_frames_and_skips_bad_clips(tmp_path):
    for action in ("jump", "run", "wave"):
        (tmp_path / action).mkdir()
    _write_avi(tmp_path / "jump" / "a.avi", [20 * i for i in range(12)])
    _write_avi(tmp_path / "run" / "b.avi", [100, 120, 140, 160, 180], codec="libx264")
    _write_avi(tmp_path / "run" / "c.avi", [90, 90])
    (tmp_path / "wave" / "d.avi").write_bytes(b"RIFF not really a video")
    data = formats.read_hmdb51(tmp_path, frames=8, size=16)
    assert data.classes == ["jump", "run", "wave"] and data.labels.tolist() == [0, 1]
    assert data.clips.shape == (2, 8, 1, 16, 16) and data.clips.dtype == np.float32
    assert data.skipped == 2 and "c.avi: clip has 2 frames" in data.skip_reasons[0]
    assert "d.avi" in data.skip_reasons[1]
    expected = [[0, 40, 60, 100, 120, 160, 180, 220], [100, 120, 140, 160, 180, 180, 180, 180]]
    np.testing.assert_allclose(data.clips[:, :, 0].mean((2, 3)), np.array(expected) / 255, atol=0.03)
    assert formats.read_hmdb51(tmp_path, frames=8, size=16, max_per_class=1).skipped == 1


def test_read_hmdb51_names_a_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="<action>/<clip>.avi"):
        formats.read_hmdb51(tmp_path / "hmdb51")
    (tmp_path / "empty_action").mkdir()
    with pytest.raises(DatasetError, match="no <action>/<clip>.avi"):
        formats.read_hmdb51(tmp_path)
