"""Readers of the standard datasets behind the MFMSC tasks, in their published on-disk formats.

* :func:`read_vqa_v2` - VQA v2 question and annotation JSON files with COCO 2014 images.
* :func:`read_mm_imdb` - MM-IMDb: one JSON record and one poster per movie (multi-label genres).
* :func:`read_hmdb51` - HMDB51: one folder of AVI clips per action.

Like the embedded generators of :mod:`.vision`, they return raw items: images float32 [C, H, W] and
clips float32 [F, 1, H, W] in [0, 1], texts as ``str``, labels int64, multi-label targets float32.
Missing or corrupt files raise :class:`~semcom_core.data.common.DatasetError` naming the file.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import av
import numpy as np
from PIL import Image

from ..common import DatasetError
from .vision import fit_frames

__all__ = ["HMDB51", "MMIMDb", "VQAv2", "read_hmdb51", "read_mm_imdb", "read_vqa_v2"]


# ---- shared helpers -----------------------------------------------------------------------------------
def _load_json(path: Path, what: str):
    """The parsed JSON file ``path``; DatasetError when it is missing or not valid JSON."""
    if not path.is_file():
        raise DatasetError(f"{what} {path} not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(f"{what} {path} is not valid JSON ({err}); download it again") from err


def _field(record: dict, key: str, path: Path, types):
    """``record[key]`` checked against ``types``; DatasetError naming the file otherwise."""
    if not isinstance(record, dict) or key not in record:
        raise DatasetError(f"{path}: a record lacks the field {key!r}; is this the right file?")
    value = record[key]
    if not isinstance(value, types):
        expected = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise DatasetError(f"{path}: field {key!r} is {type(value).__name__}, expected {expected}")
    return value


def _check_image_args(size: int, channels: int, max_items: int | None) -> None:
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if max_items is not None and max_items < 0:
        raise ValueError(f"max_items must be None (all) or >= 0, got {max_items}")


def _load_image(path: Path, size: int, channels: int) -> np.ndarray:
    """Image file as float32 [channels, size, size] in [0, 1] (squashed to a square)."""
    mode = "L" if channels == 1 else "RGB"
    try:
        with Image.open(path) as image:
            image.draft(mode, (size, size))   # JPEG: decode at a reduced scale when that suffices
            pixels = np.asarray(image.convert(mode).resize((size, size), Image.Resampling.BILINEAR))
    except (OSError, Image.DecompressionBombError) as err:
        raise DatasetError(f"cannot read image {path}: {err}; replace the file") from err
    pixels = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    return pixels.astype(np.float32) / 255.0


def _stack_images(images: list[np.ndarray], size: int, channels: int) -> np.ndarray:
    return np.stack(images) if images else np.zeros((0, channels, size, size), np.float32)


# ---- VQA v2 -------------------------------------------------------------------------------------------
class VQAv2(NamedTuple):
    """VQA v2 items: images float32 [n, C, size, size]; questions list[str]; answers int64 [n] indexing
    ``answer_names``; ``dropped`` questions whose answer is not in ``answer_names``; image_ids and
    question_ids int64 [n]."""

    images: np.ndarray
    questions: list[str]
    answers: np.ndarray
    answer_names: list[str]
    dropped: int
    image_ids: np.ndarray
    question_ids: np.ndarray


_COCO_ID = re.compile(r"_(\d{12})\.jpg$", re.IGNORECASE)


def _coco_image_index(image_dir: Path) -> dict[int, Path]:
    """Image id -> file for the files of ``image_dir`` named ``..._<id:012d>.jpg`` (COCO naming)."""
    if not image_dir.is_dir():
        raise DatasetError(f"COCO image folder {image_dir} not found; unpack the COCO 2014 images "
                           "(e.g. val2014.zip) there")
    index = {}
    for path in image_dir.iterdir():
        match = _COCO_ID.search(path.name)
        if match:
            index[int(match.group(1))] = path
    return index


def _top_answers(annotations: list[dict], top_k: int) -> list[str]:
    """The ``top_k`` most frequent ``multiple_choice_answer``s, ties broken alphabetically."""
    counts = Counter(a["multiple_choice_answer"] for a in annotations)
    return sorted(counts, key=lambda answer: (-counts[answer], answer))[:top_k]


def _vqa_records(questions_json: Path, annotations_json: Path) -> tuple[list[dict], dict[int, dict]]:
    """Question records and annotation records by question id, with their fields checked."""
    questions = _field(_load_json(questions_json, "VQA questions file"), "questions", questions_json, list)
    annotations = _field(_load_json(annotations_json, "VQA annotations file"), "annotations",
                         annotations_json, list)
    for record in questions:
        _field(record, "question", questions_json, str)
        _field(record, "question_id", questions_json, int)
        _field(record, "image_id", questions_json, int)
    for record in annotations:
        _field(record, "question_id", annotations_json, int)
        _field(record, "multiple_choice_answer", annotations_json, str)
    return questions, {record["question_id"]: record for record in annotations}


def read_vqa_v2(questions_json: str | Path, annotations_json: str | Path, image_dir: str | Path,
                answers: list[str] | None = None, top_k: int = 1000, max_items: int | None = None,
                size: int = 28, channels: int = 1) -> VQAv2:
    """VQA v2 questions with their images and answer classes.

    ``answers`` fixes the answer classes (pass the training split's ``answer_names`` when reading the
    validation split); by default they are the ``top_k`` most frequent ``multiple_choice_answer``s of
    the file. Questions answered otherwise are dropped and counted. Images are looked up in ``image_dir``
    as ``COCO_<split>2014_<image_id:012d>.jpg`` (any name ending in ``_<image_id:012d>.jpg``), resized to
    ``size`` x ``size`` with ``channels`` 1 (grayscale) or 3 (RGB). ``max_items`` keeps the first ones.
    """
    _check_image_args(size, channels, max_items)
    if answers is None and top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    questions_json, annotations_json, image_dir = Path(questions_json), Path(annotations_json), Path(image_dir)
    questions, annotation_of = _vqa_records(questions_json, annotations_json)
    answer_names = list(answers) if answers is not None else _top_answers(list(annotation_of.values()), top_k)
    answer_id = {answer: i for i, answer in enumerate(answer_names)}
    kept, dropped = [], 0
    for record in questions:
        if max_items is not None and len(kept) >= max_items:
            break
        annotation = annotation_of.get(record["question_id"])
        if annotation is None:
            raise DatasetError(f"question {record['question_id']} of {questions_json} has no annotation in "
                               f"{annotations_json}; pass the annotations file of the same split")
        if annotation["multiple_choice_answer"] in answer_id:
            kept.append((record, answer_id[annotation["multiple_choice_answer"]]))
        else:
            dropped += 1
    records = [record for record, _ in kept]
    image_ids = [record["image_id"] for record in records]
    return VQAv2(images=_vqa_images(image_ids, image_dir, size, channels),
                 questions=[record["question"] for record in records],
                 answers=np.array([answer for _, answer in kept], np.int64),
                 answer_names=answer_names, dropped=dropped, image_ids=np.array(image_ids, np.int64),
                 question_ids=np.array([record["question_id"] for record in records], np.int64))


def _vqa_images(image_ids: list[int], image_dir: Path, size: int, channels: int) -> np.ndarray:
    """Images [n, C, size, size] of the given COCO ids, each file read once."""
    index = _coco_image_index(image_dir)
    loaded = {}
    for image_id in dict.fromkeys(image_ids):
        if image_id not in index:
            raise DatasetError(f"image {image_id} (COCO_<split>2014_{image_id:012d}.jpg) not found in "
                               f"{image_dir}; unpack the COCO images of this split there")
        loaded[image_id] = _load_image(index[image_id], size, channels)
    return _stack_images([loaded[i] for i in image_ids], size, channels)


# ---- MM-IMDb ------------------------------------------------------------------------------------------
class MMIMDb(NamedTuple):
    """MM-IMDb movies: posters float32 [n, C, size, size]; plots list[str] (the first plot of each);
    targets float32 [n, len(genre_names)] multi-hot; ids list[str]; ``dropped`` movies without a plot or
    without any of the genres."""

    images: np.ndarray
    plots: list[str]
    targets: np.ndarray
    genre_names: list[str]
    ids: list[str]
    dropped: int


def _movie_ids(root: Path, dataset: Path, split: str | None) -> list[str]:
    """Movie ids of ``split`` (from ``<root>/split.json``), or of every record when ``split`` is None."""
    if split is None:
        return sorted(path.stem for path in dataset.glob("*.json"))
    split_json = root / "split.json"
    splits = _load_json(split_json, "MM-IMDb split file")
    if not isinstance(splits, dict) or split not in splits:
        names = ", ".join(splits) if isinstance(splits, dict) else "none"
        raise ValueError(f"split {split!r} is not in {split_json} (it has: {names})")
    return [str(movie) for movie in _field(splits, split, split_json, list)]


def _movie_record(dataset: Path, movie: str) -> tuple[str, list[str]]:
    """(first plot or "", genres) of one movie record."""
    path = dataset / f"{movie}.json"
    record = _load_json(path, "MM-IMDb record")
    plot = _field(record, "plot", path, (list, str))
    genres = _field(record, "genres", path, list)
    if isinstance(plot, list):
        plot = plot[0] if plot else ""
    if not isinstance(plot, str) or not all(isinstance(g, str) for g in genres):
        raise DatasetError(f"{path}: plots and genres must be strings")
    return plot.strip(), genres


def read_mm_imdb(root: str | Path, split: str | None = None, size: int = 28, channels: int = 1,
                 max_items: int | None = None, genres: list[str] | None = None) -> MMIMDb:
    """MM-IMDb movies from ``<root>/dataset/<id>.json`` (fields "plot", "genres") and ``<id>.jpeg``.

    ``split`` ("train", "dev", "test") selects the ids listed in ``<root>/split.json``; None reads every
    record. Targets are multi-hot over ``genres`` (default: every genre of the movies read, sorted; pass
    the training split's ``genre_names`` for the other splits). Movies with no plot or none of the genres
    are dropped and counted. ``max_items`` keeps the first ones.
    """
    _check_image_args(size, channels, max_items)
    root = Path(root)
    dataset = root / "dataset"
    if not dataset.is_dir():
        raise DatasetError(f"MM-IMDb folder {dataset} not found; unpack mmimdb.tar.gz so that "
                           f"{root} holds dataset/<id>.json, dataset/<id>.jpeg and split.json")
    movies, dropped = [], 0
    for movie in _movie_ids(root, dataset, split):
        if max_items is not None and len(movies) >= max_items:
            break
        plot, movie_genres = _movie_record(dataset, movie)
        wanted = movie_genres if genres is None else [g for g in movie_genres if g in genres]
        if plot and wanted:
            movies.append((movie, plot, movie_genres))
        else:
            dropped += 1
    genre_names = list(genres) if genres is not None else sorted({g for *_, gs in movies for g in gs})
    targets = np.zeros((len(movies), len(genre_names)), np.float32)
    column = {genre: i for i, genre in enumerate(genre_names)}
    for row, (*_, movie_genres) in enumerate(movies):
        targets[row, [column[g] for g in movie_genres if g in column]] = 1.0
    images = [_load_image(_poster_path(dataset, movie), size, channels) for movie, *_ in movies]
    return MMIMDb(_stack_images(images, size, channels), [plot for _, plot, _ in movies], targets, genre_names,
                  [movie for movie, *_ in movies], dropped)


def _poster_path(dataset: Path, movie: str) -> Path:
    path = dataset / f"{movie}.jpeg"
    if not path.is_file():
        raise DatasetError(f"MM-IMDb poster {path} not found; the dataset is incomplete, unpack it again")
    return path


# ---- HMDB51 -------------------------------------------------------------------------------------------
class HMDB51(NamedTuple):
    """HMDB51 clips float32 [n, frames, 1, size, size]; labels int64 [n] indexing ``classes``; paths of
    the clips; ``skipped`` clips (undecodable or too short), with ``skip_reasons`` ("path: why")."""

    clips: np.ndarray
    labels: np.ndarray
    classes: list[str]
    paths: list[Path]
    skipped: int
    skip_reasons: list[str]


def _decode_gray(path: Path, size: int) -> np.ndarray:
    """Every frame of the first video stream of ``path`` as uint8 [F, 1, size, size] (area resized)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError("no video stream")
            frames = [frame.to_ndarray(format="gray", width=size, height=size, interpolation="AREA")
                      for frame in container.decode(container.streams.video[0])]
    except (av.FFmpegError, OSError) as err:
        raise ValueError(f"cannot decode ({err})") from err
    if not frames:
        raise ValueError("no frames decoded")
    return np.stack(frames)[:, None]


def _hmdb_clip_paths(root: Path, max_per_class: int | None) -> tuple[list[str], list[tuple[Path, int]]]:
    """Class names (sorted folders) and (clip path, label) pairs, sorted, at most ``max_per_class`` each."""
    if not root.is_dir():
        raise DatasetError(f"HMDB51 folder {root} not found; unpack hmdb51_org.rar and the per-action "
                           "archives inside it so that it holds <action>/<clip>.avi")
    classes = sorted(path.name for path in root.iterdir() if path.is_dir())
    clips = []
    for label, name in enumerate(classes):
        paths = sorted((root / name).glob("*.avi"))[:max_per_class]
        clips += [(path, label) for path in paths]
    if not clips:
        raise DatasetError(f"no <action>/<clip>.avi files in {root}; unpack the per-action .rar archives")
    return classes, clips


def read_hmdb51(root: str | Path, frames: int = 8, size: int = 32, max_per_class: int | None = None,
                min_frames: int | None = None) -> HMDB51:
    """HMDB51 clips from ``<root>/<action>/<clip>.avi`` as grayscale ``frames`` x ``size`` x ``size``.

    Classes are the sorted folder names. Each clip is decoded with PyAV, resized (area averaging) and
    fitted to ``frames`` frames by :func:`~semcom_core.data.mfmsc.vision.fit_frames` (uniform sampling;
    clips shorter than ``frames`` but with at least ``min_frames`` repeat their last frame). Clips that
    fail to decode or are too short are skipped and counted. ``max_per_class`` keeps the first clips.
    """
    if size < 1 or frames < 1:
        raise ValueError(f"frames and size must be positive, got frames={frames}, size={size}")
    if max_per_class is not None and max_per_class < 0:
        raise ValueError(f"max_per_class must be None (all) or >= 0, got {max_per_class}")
    classes, candidates = _hmdb_clip_paths(Path(root), max_per_class)
    clips, labels, paths, reasons = [], [], [], []
    for path, label in candidates:
        try:
            clips.append(fit_frames(_decode_gray(path, size), frames, min_frames))
        except ValueError as err:
            reasons.append(f"{path}: {err}")
            continue
        labels.append(label)
        paths.append(path)
    stacked = np.stack(clips).astype(np.float32) / 255.0 if clips else np.zeros((0, frames, 1, size, size),
                                                                                  np.float32)
    return HMDB51(stacked, np.array(labels, np.int64), classes, paths, len(reasons), reasons)
