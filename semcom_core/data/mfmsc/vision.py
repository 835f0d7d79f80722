"""Embedded vision data of the MFMSC tasks, built from Fashion-MNIST.

Generators return raw numpy items: images float32 [1, H, W] in [0, 1], clips float32 [F, 1, H, W] in
[0, 1], texts as ``str``, class labels int64 and multi-label targets float32 multi-hot. Each one is
deterministic given its ``seed`` and draws Fashion-MNIST items only from the split it is given, so the
test split never shows a training item.

* :func:`moving_clips` - video action classification: one item moving one of six ways (``ACTIONS``).
* :func:`vqa_scenes` - visual question answering over 2x2 grids of items (``ANSWERS``).
* :func:`posters` - multi-label "genre" classification of an image plus a plot text (fortunes).
* :func:`fit_frames` - the policy for clips whose number of frames differs from the expected one.
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..common import DatasetError
from ..fashion_mnist import load_fashion_mnist
from .text import read_fortunes

__all__ = ["ACTIONS", "ANSWERS", "CLASS_NAMES", "COUNT_GROUPS", "DEFAULT_TOPICS", "EMPTY", "IMAGE_GROUPS",
           "POSITIONS", "QUESTION_KINDS", "MovingClips", "Posters", "VQAScenes", "check_clip", "fit_frames",
           "fmnist_split", "moving_clips", "posters", "split_fortunes", "vqa_scenes"]

# Short Fashion-MNIST class names, in label order, as used in questions and answers.
CLASS_NAMES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")
EMPTY = -1  # class id of an empty grid cell

ACTIONS = ("right", "left", "up", "down", "rotate", "zoom")

POSITIONS = ("top left", "top right", "bottom left", "bottom right")  # grid cells in row-major order
COUNT_GROUPS = {"tops": (0, 2, 4, 6), "shoes": (5, 7, 9), "bags": (8,)}
QUESTION_KINDS = ("what", "exists", "count")
ANSWERS = CLASS_NAMES + ("nothing", "yes", "no", "0", "1", "2", "3", "4")

# Poster "genres" of the image; "bottoms" holds trousers and dresses.
IMAGE_GROUPS = {"tops": (0, 2, 4, 6), "bottoms": (1, 3), "shoes": (5, 7, 9), "bags": (8,)}
DEFAULT_TOPICS = ("computers", "science", "politics", "food")

_GRID = 2     # scenes and posters are 2x2 grids of cells
_CELL = 14    # pixels of one cell: the 28x28 image holds four items downscaled by two


# ---- Fashion-MNIST ------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _split_uint8(split: str, root: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Cached read-only uint8 images [N, 28, 28] and int64 labels of one split."""
    dataset = load_fashion_mnist(split, root)
    images = dataset.images.numpy()[:, 0]
    labels = dataset.labels.numpy().astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _split(split: str, root) -> tuple[np.ndarray, np.ndarray]:
    return _split_uint8(split, None if root is None else str(Path(root)))


def fmnist_split(split: str, root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST ``split`` as images float32 [N, 1, 28, 28] in [0, 1] and labels int64 [N].

    Raises DatasetError (saying how to install the data) when the files are missing.
    """
    images, labels = _split(split, root)
    return images[:, None].astype(np.float32) / 255.0, labels.copy()


def _as_float(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 255.0


def _area_matrix(in_size: int, out_size: int) -> np.ndarray:
    """Weights [out, in]: each output pixel averages the input pixels it covers (box filter)."""
    edges = np.linspace(0.0, in_size, out_size + 1)
    pixels = np.arange(in_size)
    overlap = np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels)
    overlap = np.clip(overlap, 0.0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def _resize(images: np.ndarray, out_size: int) -> np.ndarray:
    """Square images [..., H, H] resized to [..., out_size, out_size] by area averaging."""
    matrix = _area_matrix(images.shape[-1], out_size)
    return matrix @ images @ matrix.T


def _check_generator_args(split: str, n: int) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if int(n) != n or n < 0:
        raise ValueError(f"n (the number of instances) must be a non-negative integer, got {n!r}")


def _balanced(rng: np.random.Generator, n: int, kinds: int) -> np.ndarray:
    """``n`` ids in [0, kinds) in random order, each kind as often as possible (counts differ by <= 1)."""
    return rng.permutation(np.arange(n) % kinds).astype(np.int64)


def _first_k_of_permutation(rng: np.random.Generator, n: int, total: int, k: int) -> np.ndarray:
    """[n, k] distinct ids in [0, total) per row, uniformly at random."""
    return np.argsort(rng.random((n, total)), axis=1)[:, :k]


# ---- video: moving items ------------------------------------------------------------------------------
class MovingClips(NamedTuple):
    """Clips float32 [n, frames, 1, size, size], action ids int64 [n] and the action names."""

    clips: np.ndarray
    labels: np.ndarray
    actions: tuple[str, ...]


# Pose ranges of the moving item. Each action sweeps one pose parameter over time; every other parameter
# holds still at the value its sweep has at a random moment. Positions wrap around the canvas (an item
# leaving on the right comes back on the left) and angles around the circle, so in every frame, first and
# last included, the item's position and angle are uniform whatever the action: only the change between
# frames tells the translations and "rotate" apart.
_TRAVEL = 0.75            # translations sweep this fraction of the canvas
_ROTATION = 180.0         # degrees turned by "rotate", from a uniformly random angle
_ZOOM_START = (0.4, 0.6)  # "zoom" grows from this fraction of the item size to the full size
_RENDER_PIXELS = 2 ** 17  # canvas pixels rendered at once: few enough to keep the sampling in the CPU cache


def _sweeps(rng: np.random.Generator, n: int, period: float, travel: float) -> np.ndarray:
    """[n, 2] (start, end) of increasing sweeps of length ``travel`` starting anywhere in [0, period)."""
    start = rng.uniform(0.0, period, n)
    return np.stack([start, start + travel], axis=1)


def _pose_sweeps(rng: np.random.Generator, n: int, size: int) -> dict[str, np.ndarray]:
    """Increasing (start, end) sweeps [n, 2] of the item's centre row and column, angle and scale."""
    zoom_start = rng.uniform(*_ZOOM_START, n)
    return {"row": _sweeps(rng, n, size, _TRAVEL * size),
            "col": _sweeps(rng, n, size, _TRAVEL * size),
            "angle": _sweeps(rng, n, 360.0, _ROTATION),
            "scale": np.stack([zoom_start, np.ones(n)], axis=1)}


def _directions(rng: np.random.Generator, actions: np.ndarray) -> dict[str, np.ndarray]:
    """Per clip, +1 / -1 where the action sweeps a pose parameter forwards / backwards, 0 where it holds."""
    def doing(action: str) -> np.ndarray:
        return (actions == ACTIONS.index(action)).astype(np.int64)

    turn = np.where(rng.random(len(actions)) < 0.5, 1, -1)   # "rotate" turns either way
    return {"row": doing("down") - doing("up"),                # rows grow downwards
            "col": doing("right") - doing("left"),
            "angle": doing("rotate") * turn,
            "scale": doing("zoom")}


def _pose_tracks(rng: np.random.Generator, actions: np.ndarray, frames: int,
                 size: int) -> dict[str, np.ndarray]:
    """Per clip and frame [n, frames] values of the pose parameters (row, col, angle, scale)."""
    n = len(actions)
    sweeps = _pose_sweeps(rng, n, size)
    directions = _directions(rng, actions)
    time = np.linspace(0.0, 1.0, frames)
    tracks = {}
    for name, direction in directions.items():
        progress = np.where(direction[:, None] != 0, time[None, :], rng.random(n)[:, None])
        progress = np.where(direction[:, None] < 0, 1.0 - progress, progress)
        start, end = sweeps[name][:, :1], sweeps[name][:, 1:]
        tracks[name] = (start + (end - start) * progress).astype(np.float32)
    return tracks


def _render(items: np.ndarray, item_of_frame: np.ndarray, tracks: dict[str, np.ndarray],
            size: int) -> np.ndarray:
    """Frames [m, size, size]: frame j shows items[item_of_frame[j]] (bilinear) on black at its pose."""
    k = items.shape[-1]
    padded = np.pad(items, ((0, 0), (1, 1), (1, 1))).reshape(-1)  # zero border: outside samples read 0
    poses = {name: track.reshape(-1) for name, track in tracks.items()}
    frames = np.empty((len(item_of_frame), size, size), np.float32)
    chunk = max(1, _RENDER_PIXELS // (size * size))
    for begin in range(0, len(frames), chunk):
        part = slice(begin, begin + chunk)
        frames[part] = _sample(padded, k, item_of_frame[part], {key: v[part] for key, v in poses.items()}, size)
    return frames


def _wrapped(offset: np.ndarray, size: int) -> np.ndarray:
    """Offsets on a canvas of ``size`` whose opposite edges touch, as the shortest ones in [-size/2, size/2)."""
    return (offset + size / 2) % size - size / 2


def _sample(padded: np.ndarray, k: int, item_of_frame: np.ndarray, pose: dict[str, np.ndarray],
            size: int) -> np.ndarray:
    """Frames [m, size, size] of bilinear samples of the zero-bordered flat items, each canvas pixel
    mapped back through its frame's pose (wrapping offset from the centre, rotation, scale)."""
    grid = np.arange(size, dtype=np.float32)
    d_row = _wrapped(grid[None, :, None] - pose["row"][:, None, None], size)
    d_col = _wrapped(grid[None, None, :] - pose["col"][:, None, None], size)
    theta = np.deg2rad(pose["angle"])[:, None, None]
    cos, sin = np.cos(theta), np.sin(theta)
    inverse_scale = 1.0 / pose["scale"][:, None, None]
    centre = (k - 1) / 2 + 1  # + 1: the zero border
    src_row = np.clip((cos * d_row + sin * d_col) * inverse_scale + centre, 0, k + 1)
    src_col = np.clip((cos * d_col - sin * d_row) * inverse_scale + centre, 0, k + 1)
    row0 = np.minimum(np.floor(src_row), k).astype(np.int64)
    col0 = np.minimum(np.floor(src_col), k).astype(np.int64)
    w_row, w_col = src_row - row0, src_col - col0
    width = k + 2
    base = (item_of_frame * width * width)[:, None, None] + row0 * width + col0
    top = padded[base] * (1 - w_col) + padded[base + 1] * w_col
    bottom = padded[base + width] * (1 - w_col) + padded[base + width + 1] * w_col
    return (top * (1 - w_row) + bottom * w_row).astype(np.float32)


def moving_clips(split: str, n: int, seed: int, frames: int = 8, size: int = 32, item_size: int = 16,
                 root: str | Path | None = None) -> MovingClips:
    """Video action classification: one Fashion-MNIST item moving one of six ways on a black canvas.

    Each clip shows a random item of ``split`` (downscaled to ``item_size``) over ``frames`` frames of
    ``size`` x ``size``. Its action (balanced over clips) is one of ``ACTIONS``: "right", "left", "up",
    "down" (the centre travels 3/4 of the canvas), "rotate" (by 180 degrees, either way) or "zoom"
    (growing from 0.4-0.6 of the item size to full size). The canvas wraps around: an item leaving one
    edge comes back on the opposite one. Pose parameters an action does not sweep hold still at the value
    their sweep has at a random moment, so every frame shows a uniformly random position and angle
    whatever the action; only the item size still hints at "zoom" in its first and last frames.
    """
    _check_generator_args(split, n)
    if frames < 2:
        raise ValueError(f"frames must be at least 2 to show a motion, got {frames}")
    largest = int(size / np.sqrt(2))   # a turned item must fit the wrapping canvas without overlapping itself
    if not 4 <= item_size <= largest:
        raise ValueError(f"item_size must be in [4, {largest}] for a canvas of size {size}, got {item_size}")
    rng = np.random.default_rng(seed)
    images, _ = _split(split, root)
    items = _resize(_as_float(images[rng.integers(0, len(images), n)]), item_size)
    labels = _balanced(rng, n, len(ACTIONS))
    tracks = _pose_tracks(rng, labels, frames, size)
    item_of_frame = np.repeat(np.arange(n), frames)
    clips = _render(items, item_of_frame, tracks, size).reshape(n, frames, 1, size, size)
    return MovingClips(np.clip(clips, 0.0, 1.0), labels, ACTIONS)


# ---- clips of other lengths ---------------------------------------------------------------------------
def _default_min_frames(frames: int) -> int:
    return (frames + 1) // 2


def check_clip(clip: np.ndarray, frames: int, min_frames: int | None = None) -> None:
    """Raise ValueError unless ``clip`` is [F, C, H, W] and :func:`fit_frames` can fit it to ``frames``.

    ``min_frames`` (default: half of ``frames``, rounded up) is the shortest clip that is accepted.
    """
    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")
    min_frames = _default_min_frames(frames) if min_frames is None else min_frames
    if not 1 <= min_frames <= frames:
        raise ValueError(f"min_frames must be in [1, frames={frames}], got {min_frames}")
    shape = np.shape(clip)
    if len(shape) != 4:
        raise ValueError(f"a clip must be [frames, channels, height, width], got shape {shape}; "
                         "add the channel axis of grayscale clips with clip[:, None]")
    if 0 in shape[1:]:
        raise ValueError(f"clip frames must not be empty, got shape {shape}")
    if shape[0] < min_frames:
        raise ValueError(f"clip has {shape[0]} frames; at least {min_frames} needed to fit it to {frames} "
                         "frames (shorter clips are padded with their last frame only down to min_frames); "
                         "pass a longer clip or a smaller min_frames")


def fit_frames(clip: np.ndarray, frames: int, min_frames: int | None = None) -> np.ndarray:
    """The clip [F, C, H, W] with exactly ``frames`` frames.

    Policy: a longer clip is sampled uniformly down to ``frames`` frames (its first and last frames
    kept); a shorter one is padded by repeating its last frame if it has at least ``min_frames`` frames
    (default: half of ``frames``, rounded up), else ValueError. Wrong ranks or empty frames: ValueError.
    """
    check_clip(clip, frames, min_frames)
    clip = np.asarray(clip)
    count = len(clip)
    if count >= frames:
        index = np.round(np.linspace(0, count - 1, frames)).astype(np.int64)
    else:
        index = np.minimum(np.arange(frames), count - 1)
    return clip[index]


# ---- grids of items: VQA scenes and posters ----------------------------------------------------------
def _grid_images(images: np.ndarray, index: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Images float32 [n, 1, 28, 28]: items ``index`` [n, 4] downscaled into a 2x2 grid, empty cells black."""
    n = len(index)
    items = _resize(_as_float(images[index]), _CELL) * (cells != EMPTY)[:, :, None, None]
    grid = items.reshape(n, _GRID, _GRID, _CELL, _CELL).transpose(0, 1, 3, 2, 4)
    return np.ascontiguousarray(grid.reshape(n, 1, _GRID * _CELL, _GRID * _CELL), dtype=np.float32)


class VQAScenes(NamedTuple):
    """A VQA split.

    images float32 [n, 1, 28, 28]; questions list[str]; answers int64 [n] indexing ``answer_names``;
    cell_classes int64 [n, 4] (class of each grid cell in ``POSITIONS`` order, ``EMPTY`` for none);
    question_kinds int64 [n] indexing ``QUESTION_KINDS``.
    """

    images: np.ndarray
    questions: list[str]
    answers: np.ndarray
    answer_names: tuple[str, ...]
    cell_classes: np.ndarray
    question_kinds: np.ndarray


def _ask_what(rng: np.random.Generator, cells: np.ndarray) -> tuple[str, str]:
    cell = int(rng.integers(len(POSITIONS)))
    answer = "nothing" if cells[cell] == EMPTY else CLASS_NAMES[cells[cell]]
    return f"what is in the {POSITIONS[cell]}?", answer


def _ask_exists(rng: np.random.Generator, cells: np.ndarray, yes: bool) -> tuple[str, str]:
    present = np.isin(np.arange(len(CLASS_NAMES)), cells)
    asked = int(rng.choice(np.flatnonzero(present if yes else ~present)))
    return f"is there a {CLASS_NAMES[asked]} in the picture?", "yes" if yes else "no"


def _ask_count(rng: np.random.Generator, cells: np.ndarray) -> tuple[str, str]:
    group = list(COUNT_GROUPS)[int(rng.integers(len(COUNT_GROUPS)))]
    count = int(np.isin(cells, COUNT_GROUPS[group]).sum())
    return f"how many {group} are there?", str(count)


def vqa_scenes(split: str, n: int, seed: int, root: str | Path | None = None) -> VQAScenes:
    """VQA over 2x2 grids of Fashion-MNIST items (14x14 each); half the scenes have one empty cell.

    Question kinds are balanced: "what is in the {position}?" (a class name or "nothing"), "is there a
    {class} in the picture?" (half yes, half no) and "how many {tops|shoes|bags} are there?" ("0".."4").
    Answering needs both the image and the question.
    """
    _check_generator_args(split, n)
    rng = np.random.default_rng(seed)
    images, labels = _split(split, root)
    index = rng.integers(0, len(images), (n, _GRID * _GRID))
    cells = labels[index].copy()
    with_empty = np.flatnonzero(rng.random(n) < 0.5)
    cells[with_empty, rng.integers(0, _GRID * _GRID, len(with_empty))] = EMPTY
    kinds = _balanced(rng, n, len(QUESTION_KINDS))
    exists = np.flatnonzero(kinds == QUESTION_KINDS.index("exists"))
    says_yes = np.zeros(n, bool)
    says_yes[exists] = _balanced(rng, len(exists), 2) == 0
    questions, answers = [], []
    for scene, kind in enumerate(kinds):
        if QUESTION_KINDS[kind] == "what":
            question, answer = _ask_what(rng, cells[scene])
        elif QUESTION_KINDS[kind] == "exists":
            question, answer = _ask_exists(rng, cells[scene], bool(says_yes[scene]))
        else:
            question, answer = _ask_count(rng, cells[scene])
        questions.append(question)
        answers.append(ANSWERS.index(answer))
    return VQAScenes(_grid_images(images, index, cells), questions, np.asarray(answers, np.int64), ANSWERS,
                     cells, kinds)


class Posters(NamedTuple):
    """A poster split (multi-label, like MM-IMDb genres).

    images float32 [n, 1, 28, 28]; texts list[str]; targets float32 [n, len(label_names)] multi-hot over
    ``label_names`` = image groups + topics; cell_classes int64 [n, 4] (``EMPTY`` for none); topic_ids
    int64 [n, 2] indexing the topics of the text (``EMPTY`` for none).
    """

    images: np.ndarray
    texts: list[str]
    targets: np.ndarray
    label_names: tuple[str, ...]
    cell_classes: np.ndarray
    topic_ids: np.ndarray


def split_fortunes(topic: str, split: str, root: str | Path | None = None) -> list[str]:
    """The fortunes of ``topic`` that belong to ``split``: a fixed half of the file's distinct fortunes.

    A fortune goes to "train" when the CRC-32 of its text is even, to "test" otherwise, so the halves are
    disjoint and do not move when other fortunes are added to the file.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    fortunes = read_fortunes(topic) if root is None else read_fortunes(topic, root=Path(root))
    parity = 0 if split == "train" else 1
    chosen = [text for text in dict.fromkeys(fortunes) if zlib.crc32(text.encode("utf-8")) % 2 == parity]
    if not chosen:
        raise DatasetError(f"fortune topic {topic!r} has no {split} fortunes (it holds {len(fortunes)}); "
                           "choose a topic with more fortunes")
    return chosen


def _multi_hot(ids: np.ndarray, width: int) -> np.ndarray:
    """Rows float32 [n, width] with a one at every id of ``ids`` [n, k] that is not ``EMPTY``."""
    targets = np.zeros((len(ids), width + 1), np.float32)   # the extra column swallows EMPTY (-1)
    np.put_along_axis(targets, np.where(ids == EMPTY, width, ids), 1.0, axis=1)
    return targets[:, :width]


def _one_or_two_distinct(rng: np.random.Generator, n: int, total: int) -> np.ndarray:
    """[n, 2] distinct ids in [0, total); the second is EMPTY in about half the rows (always if total is 1)."""
    ids = _first_k_of_permutation(rng, n, total, min(2, total))
    if total == 1:
        return np.concatenate([ids, np.full((n, 1), EMPTY)], axis=1)
    ids[rng.random(n) < 0.5, 1] = EMPTY
    return ids


def _poster_images(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray,
                   groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images [n, 1, 28, 28] and cell classes [n, 4]: one random item of each group in a random cell."""
    n = len(groups)
    index = np.zeros((n, _GRID * _GRID), np.int64)
    cells = np.full((n, _GRID * _GRID), EMPTY, np.int64)
    places = _first_k_of_permutation(rng, n, _GRID * _GRID, groups.shape[1])
    for group, classes in enumerate(IMAGE_GROUPS.values()):
        poster, slot = np.nonzero(groups == group)
        pool = np.flatnonzero(np.isin(labels, classes))
        items = pool[rng.integers(0, len(pool), len(poster))]
        index[poster, places[poster, slot]] = items
        cells[poster, places[poster, slot]] = labels[items]
    return _grid_images(images, index, cells), cells


def posters(split: str, n: int, seed: int, topics=DEFAULT_TOPICS, root: str | Path | None = None,
            fortunes_root: str | Path | None = None) -> Posters:
    """Posters with plots, labelled like MM-IMDb genres; recovering every label needs both modalities.

    The image (2x2 grid of 14x14 cells) shows 1 or 2 Fashion-MNIST items of distinct ``IMAGE_GROUPS``;
    the text is 1 or 2 fortunes of distinct ``topics`` joined by a space, from the ``split`` half of each
    topic (see :func:`split_fortunes`). Targets are multi-hot over the image groups, then the topics.
    """
    _check_generator_args(split, n)
    topics = tuple(topics)
    if not topics or len(set(topics)) != len(topics):
        raise ValueError(f"topics must be distinct fortune file names, at least one, got {topics!r}")
    fortunes = [split_fortunes(topic, split, fortunes_root) for topic in topics]
    rng = np.random.default_rng(seed)
    images, labels = _split(split, root)
    groups = _one_or_two_distinct(rng, n, len(IMAGE_GROUPS))
    grid, cells = _poster_images(rng, images, labels, groups)
    topic_ids = _one_or_two_distinct(rng, n, len(topics))
    texts = [" ".join(fortunes[t][rng.integers(len(fortunes[t]))] for t in row if t != EMPTY)
             for row in topic_ids]
    targets = np.concatenate([_multi_hot(groups, len(IMAGE_GROUPS)), _multi_hot(topic_ids, len(topics))],
                             axis=1)
    return Posters(grid, texts, targets, tuple(IMAGE_GROUPS) + topics, cells, topic_ids.astype(np.int64))
