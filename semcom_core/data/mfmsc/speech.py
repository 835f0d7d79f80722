"""Speech of the MFMSC tasks: phrases spoken by espeak-ng, filter-bank features, CTC characters, LibriSpeech.

* :func:`spoken_phrases` - short phrases of :data:`PHRASE_WORDS` spoken by ``espeak-ng`` with random
  voices, speeds and pitches, plus white noise; cached as one ``.npz`` per set of arguments.
* :func:`fbank_features` - Kaldi log-mel filter banks (``kaldi_native_fbank``).
* :class:`CharVocab` - the characters a CTC recognizer emits (blank, space, apostrophe, a-z).
* :func:`read_librispeech` - the LibriSpeech layout (FLAC files and ``*.trans.txt`` transcripts).

Waves are float32 mono at :data:`SAMPLE_RATE` with samples in [-1, 1]; transcripts are ``str``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import string
import subprocess
import threading
import warnings
import wave as wavfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, Sequence

import av
import kaldi_native_fbank as knf
import numpy as np
from scipy.signal import resample_poly
from tqdm import tqdm

from ...units import db_to_linear
from ..common import DatasetError

__all__ = ["PHRASE_WORDS", "SAMPLE_RATE", "VOICES", "CharVocab", "clip_count", "cmvn", "default_cache_dir",
           "fbank_features", "make_phrases", "read_audio", "read_librispeech", "spoken_phrases", "synthesize"]

SAMPLE_RATE = 16000

# Short words that sound unlike each other; lowercase a-z only, so CharVocab encodes every phrase.
PHRASE_WORDS = (
    "red", "green", "blue", "yellow", "black", "white",                  # colours
    "apple", "house", "car", "tree", "book", "chair", "fish",            # objects
    "one", "two", "three", "four", "five", "six", "seven", "nine", "zero",  # digits
    "left", "right", "up", "down", "stop", "go",                         # directions
)

# espeak-ng English accents, each also with male (+m) and female (+f) voice variants.
_ACCENTS = ("en", "en-us", "en-gb-scotland", "en-029", "en-gb-x-rp")
_VARIANTS = ("", "+m3", "+m7", "+f2", "+f4")
VOICES = tuple(accent + variant for accent in _ACCENTS for variant in _VARIANTS)

_ESPEAK_SPEEDS = (80, 450)      # words per minute espeak-ng accepts
_ESPEAK_PITCHES = (0, 99)
_CACHE_FORMAT = 1               # bump when the generated audio changes, to invalidate old caches
_WORKERS = 4                    # espeak-ng runs in subprocesses: threads overlap them well
_AUTO_PROGRESS_FROM = 200       # progress=None shows a bar from this many utterances on


# ---- phrases ----------------------------------------------------------------------------------------------
def make_phrases(n: int, seed: int, min_words: int = 2, max_words: int = 3) -> list[str]:
    """``n`` phrases of ``min_words`` to ``max_words`` distinct :data:`PHRASE_WORDS`, lowercase, single spaces.

    The first ``m`` phrases of ``make_phrases(n, seed)`` are ``make_phrases(m, seed)``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0 phrases, got {n}")
    if not 1 <= min_words <= max_words <= len(PHRASE_WORDS):
        raise ValueError(f"need 1 <= min_words <= max_words <= {len(PHRASE_WORDS)}, "
                         f"got min_words={min_words}, max_words={max_words}")
    rng = np.random.default_rng(seed)
    phrases = []
    for _ in range(n):
        count = int(rng.integers(min_words, max_words + 1))
        words = rng.choice(len(PHRASE_WORDS), size=count, replace=False)
        phrases.append(" ".join(PHRASE_WORDS[i] for i in words))
    return phrases


# ---- espeak-ng --------------------------------------------------------------------------------------------
def synthesize(text: str, voice: str = "en-us", speed: int = 170, pitch: int = 50) -> np.ndarray:
    """``text`` spoken by espeak-ng: float32 mono at :data:`SAMPLE_RATE` in [-1, 1].

    ``voice`` is an espeak-ng voice, optionally with a variant (``"en-us+f2"``); ``speed`` in words per
    minute (80..450); ``pitch`` 0..99. espeak-ng's 22.05 kHz output is resampled, and the silence
    before and after the speech is trimmed to 50 ms.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"cannot speak empty text {text!r}: pass words to synthesize")
    _check_range("speed", speed, _ESPEAK_SPEEDS)
    _check_range("pitch", pitch, _ESPEAK_PITCHES)
    command = ["espeak-ng", "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "--stdout"]
    try:   # the text goes through stdin, so that no text can be taken for an option
        result = subprocess.run(command, input=text.encode("utf-8"), capture_output=True, timeout=60)
    except FileNotFoundError as err:
        raise DatasetError("espeak-ng not found: install it with `apt-get install espeak-ng`") from err
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise DatasetError(f"espeak-ng failed (voice {voice!r}, exit {result.returncode}): {message}")
    samples, rate = _parse_wav(result.stdout)
    speech = _trim_silence(_resample(samples, rate, SAMPLE_RATE), SAMPLE_RATE)
    if speech.size == 0:
        raise DatasetError(f"espeak-ng produced no audio for {text!r} (voice {voice!r})")
    return speech


def _check_range(name: str, value, bounds: tuple[int, int]) -> None:
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{name} must lie in [{bounds[0]}, {bounds[1]}], got {value}")


def _parse_wav(data: bytes) -> tuple[np.ndarray, int]:
    """(float32 samples in [-1, 1], sample rate) of a 16-bit mono WAV held in memory."""
    try:
        with wavfile.open(io.BytesIO(data)) as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                raise DatasetError(f"espeak-ng wrote {wav.getnchannels()} channel(s) of "
                                   f"{8 * wav.getsampwidth()}-bit audio, expected 16-bit mono")
            rate = wav.getframerate()
            # espeak-ng streams to stdout, so the header's frame count is a placeholder: read everything
            frames = wav.readframes(wav.getnframes())
    except (wavfile.Error, EOFError) as err:
        raise DatasetError(f"espeak-ng output is not a WAV file ({err})") from err
    samples = np.frombuffer(frames[:len(frames) // 2 * 2], dtype="<i2")
    return samples.astype(np.float32) / 32768.0, rate


def _resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return samples.astype(np.float32)
    common = math.gcd(rate, target)
    return resample_poly(samples, target // common, rate // common).astype(np.float32)


def _trim_silence(samples: np.ndarray, rate: int, threshold: float = 0.01, margin_s: float = 0.05) -> np.ndarray:
    """``samples`` without the quiet start and end (below ``threshold`` x peak), keeping ``margin_s`` of it."""
    loud = np.flatnonzero(np.abs(samples) > threshold * np.abs(samples).max(initial=0.0))
    if loud.size == 0:
        return samples
    margin = int(margin_s * rate)
    return samples[max(loud[0] - margin, 0):loud[-1] + 1 + margin]


# ---- the spoken-phrase set --------------------------------------------------------------------------------
class _Utterance(NamedTuple):
    text: str
    voice: str
    speed: int
    pitch: int
    snr_db: float
    noise_seed: int


def _utterances(n, seed, voices, speeds, pitches, noise_snr_db) -> list[_Utterance]:
    """The random settings of every utterance; utterance ``i`` depends on ``seed`` and ``i`` only."""
    plans = []
    for index, text in enumerate(make_phrases(n, seed)):
        rng = np.random.default_rng([seed, index])
        plans.append(_Utterance(text, voices[int(rng.integers(len(voices)))],
                                int(rng.integers(speeds[0], speeds[1] + 1)),
                                int(rng.integers(pitches[0], pitches[1] + 1)),
                                float(rng.uniform(*noise_snr_db)), int(rng.integers(2**63))))
    return plans


def _speak(plan: _Utterance) -> np.ndarray:
    """One utterance: synthesized speech plus white Gaussian noise at ``plan.snr_db``, clipped to [-1, 1]."""
    speech = synthesize(plan.text, plan.voice, plan.speed, plan.pitch)
    noise_power = np.mean(speech.astype(np.float64) ** 2) / db_to_linear(plan.snr_db)
    noise = np.random.default_rng(plan.noise_seed).normal(0.0, math.sqrt(noise_power), speech.shape)
    return np.clip(speech + noise, -1.0, 1.0).astype(np.float32)


def _check_interval(name: str, interval, bounds=None) -> tuple:
    if len(interval) != 2 or interval[0] > interval[1]:
        raise ValueError(f"{name} must be a (low, high) pair with low <= high, got {interval}")
    if bounds is not None:
        _check_range(f"{name} low", interval[0], bounds)
        _check_range(f"{name} high", interval[1], bounds)
    return tuple(interval)


def spoken_phrases(n: int, seed: int = 0, cache_dir: str | Path | None = None, voices: Sequence[str] = VOICES,
                   speeds: tuple[int, int] = (140, 200), pitches: tuple[int, int] = (30, 70),
                   noise_snr_db: tuple[float, float] = (10.0, 30.0), progress: bool | None = None,
                   cache: bool = True) -> tuple[list[np.ndarray], list[str]]:
    """``n`` noisy spoken phrases: (waves float32 at :data:`SAMPLE_RATE`, their transcripts).

    Phrase ``i`` (:func:`make_phrases`) is spoken with a voice drawn from ``voices`` and a speed (words
    per minute) and pitch drawn from the inclusive ranges, then white Gaussian noise is added at an SNR
    drawn from ``noise_snr_db`` (relative to that utterance's mean power) and the result clipped to
    [-1, 1]. Everything is determined by the arguments.

    The set is kept in one ``.npz`` under ``cache_dir`` (None: :func:`default_cache_dir`) named by a
    hash of the arguments, and loaded from there next time; ``cache=False`` neither reads nor writes
    it, and an unreadable cache file is regenerated. ``progress`` shows a bar (None: from 200 phrases).
    """
    speeds = _check_interval("speeds", speeds, _ESPEAK_SPEEDS)
    pitches = _check_interval("pitches", pitches, _ESPEAK_PITCHES)
    noise_snr_db = _check_interval("noise_snr_db", noise_snr_db)
    if not voices:
        raise ValueError("voices is empty: pass espeak-ng voice names such as ('en-us', 'en+f2')")
    settings = {"format": _CACHE_FORMAT, "n": int(n), "seed": int(seed), "voices": [str(v) for v in voices],
                "speeds": [int(v) for v in speeds], "pitches": [int(v) for v in pitches],
                "noise_snr_db": [float(v) for v in noise_snr_db], "rate": SAMPLE_RATE}
    path = _cache_path(Path(cache_dir) if cache_dir is not None else default_cache_dir(), settings)
    if cache and (loaded := _load_cache(path, n)) is not None:
        return loaded
    plans = _utterances(n, seed, list(voices), speeds, pitches, noise_snr_db)
    show = n >= _AUTO_PROGRESS_FROM if progress is None else progress
    with ThreadPoolExecutor(_WORKERS) as pool:
        waves = list(tqdm(pool.map(_speak, plans), total=n, disable=not show, desc="espeak-ng phrases",
                          unit="utt"))
    texts = [plan.text for plan in plans]
    if cache:
        _save_cache(path, waves, texts)
    return waves, texts


# ---- cache ------------------------------------------------------------------------------------------------
def default_cache_dir() -> Path:
    """``$SEMCOM_CACHE/mfmsc-speech``, or ``~/.cache/semcom/mfmsc-speech`` when SEMCOM_CACHE is unset."""
    root = os.environ.get("SEMCOM_CACHE") or Path.home() / ".cache" / "semcom"
    return Path(root) / "mfmsc-speech"


def _cache_path(folder: Path, settings: dict) -> Path:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()[:20]
    return folder / f"phrases-{digest}.npz"


def _load_cache(path: Path, n: int) -> tuple[list[np.ndarray], list[str]] | None:
    """The cached (waves, texts), or None when the file is absent or unreadable (a warning says so)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            audio, offsets, texts = data["audio"], data["offsets"], data["texts"]
        consistent = len(texts) == n and offsets.shape == (n + 1,) and offsets[-1] == len(audio)
        if not consistent or np.any(np.diff(offsets) < 0):
            raise ValueError("its arrays do not fit together")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        warnings.warn(f"speech cache {path} is unreadable ({err}); generating the phrases again", stacklevel=3)
        return None
    waves = [audio[start:stop] for start, stop in zip(offsets[:-1], offsets[1:])]
    return waves, [str(text) for text in texts]


def _save_cache(path: Path, waves: list[np.ndarray], texts: list[str]) -> None:
    """Write the set atomically (a temporary file renamed into place); a failure only warns."""
    offsets = np.cumsum([0] + [len(w) for w in waves]).astype(np.int64)
    audio = np.concatenate(waves) if waves else np.zeros(0, np.float32)
    partial = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as handle:
            np.savez(handle, audio=audio, offsets=offsets, texts=np.asarray(texts, dtype=str))
        os.replace(partial, path)
    except OSError as err:
        partial.unlink(missing_ok=True)
        warnings.warn(f"cannot write the speech cache {path} ({err}); set SEMCOM_CACHE or cache_dir to a "
                      "writable folder", stacklevel=3)


# ---- features ---------------------------------------------------------------------------------------------
_WINDOW_S = 0.025
_SHIFT_S = 0.010


def clip_count(wave: np.ndarray) -> int:
    """How many samples of ``wave`` lie outside [-1, 1] (and are clipped by :func:`fbank_features`)."""
    return int(np.count_nonzero(np.abs(np.asarray(wave)) > 1.0))


def fbank_features(wave: np.ndarray, sample_rate: int = SAMPLE_RATE, num_bins: int = 40) -> np.ndarray:
    """Kaldi log-mel filter banks of a mono wave: float32 [frames, num_bins], frames = 1 + (N - window) // shift.

    25 ms windows every 10 ms, no dither, frames inside the wave only (``snip_edges``). Samples are
    scaled by 32768 to the int16 range Kaldi expects. Samples outside [-1, 1] are clipped to it first
    (count them with :func:`clip_count`). Silence is valid: Kaldi floors the energy at FLT_EPSILON, so an
    all-zero wave gives log(1.19e-7) = -15.94 in every bin. A wave shorter than one window, not 1-D, or
    holding NaN or inf is a ValueError.
    """
    samples = _checked_wave(wave, sample_rate)
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}")
    options = knf.FbankOptions()
    options.frame_opts.samp_freq = float(sample_rate)
    options.frame_opts.frame_length_ms = 1000 * _WINDOW_S
    options.frame_opts.frame_shift_ms = 1000 * _SHIFT_S
    options.frame_opts.dither = 0.0
    options.frame_opts.snip_edges = True
    options.mel_opts.num_bins = int(num_bins)
    fbank = knf.OnlineFbank(options)
    fbank.accept_waveform(float(sample_rate), (np.clip(samples, -1.0, 1.0) * 32768.0).tolist())
    fbank.input_finished()
    return np.array([fbank.get_frame(i) for i in range(fbank.num_frames_ready)], dtype=np.float32)


def cmvn(features: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """Per-utterance cepstral mean and variance normalisation: every bin of ``features`` [frames, bins]
    shifted to zero mean and scaled to unit variance over the utterance's frames.

    Raw log-mel energies sit near 5-20 with a loudness offset per utterance (and -15.9 for digital
    silence); normalised, every utterance and bin enters the network on one scale, and zero padding
    means "average frame". A bin that stays within ``floor`` of constant (digital silence) becomes zero."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) == 0:
        raise ValueError(f"cmvn expects features [frames >= 1, bins], got shape {features.shape}")
    centred = features - features.mean(axis=0)
    std = centred.std(axis=0)
    return np.where(std > floor, centred / np.where(std > floor, std, 1.0), 0.0).astype(np.float32)


def _checked_wave(wave, sample_rate: int) -> np.ndarray:
    samples = np.asarray(wave, dtype=np.float64)
    if samples.ndim != 1:
        raise ValueError(f"wave must be mono (1-D), got shape {samples.shape}; average the channels first")
    window = int(_WINDOW_S * sample_rate)
    if samples.size < window:
        raise ValueError(f"wave has {samples.size} samples, fewer than one 25 ms window: it needs at least "
                         f"{window} samples at {sample_rate} Hz")
    if not np.all(np.isfinite(samples)):
        raise ValueError(f"wave holds {np.count_nonzero(~np.isfinite(samples))} NaN or infinite samples")
    return samples


# ---- CTC characters ---------------------------------------------------------------------------------------
class CharVocab:
    """Characters of a CTC recognizer: 0 = blank, 1 = space, 2 = apostrophe, 3.. = a-z."""

    BLANK = 0
    CHARS = " '" + string.ascii_lowercase

    def __init__(self):
        self._ids = {char: index for index, char in enumerate(self.CHARS, start=1)}

    @property
    def size(self) -> int:
        """Number of output classes, the blank included."""
        return len(self.CHARS) + 1

    def encode_checked(self, text: str) -> tuple[np.ndarray, int]:
        """(ids int64 of ``text``, number of characters dropped); see :meth:`encode`."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        kept, dropped = [], 0
        for char in text.lower().replace("\u2019", "'"):
            char = " " if char.isspace() else char
            if char in self._ids:
                kept.append(char)
            else:
                dropped += 1
        clean = " ".join("".join(kept).split())
        return np.array([self._ids[char] for char in clean], dtype=np.int64), dropped

    def encode(self, text: str) -> np.ndarray:
        """Ids int64 of ``text`` lowercased; characters outside the vocabulary (digits, punctuation,
        accented letters) are dropped, then whitespace runs become one space. :meth:`encode_checked`
        also returns how many were dropped."""
        return self.encode_checked(text)[0]

    def decode(self, ids) -> str:
        """The text of character ids (list, numpy or torch, 1-D); blanks are skipped."""
        return "".join(self.CHARS[i - 1] for i in self._checked_ids(ids) if i != self.BLANK)

    def ctc_greedy(self, ids_per_frame) -> str:
        """Best-path CTC decoding of the arg-max id of every frame: repeats merged, then blanks dropped."""
        ids = self._checked_ids(ids_per_frame)
        merged = [i for position, i in enumerate(ids) if position == 0 or i != ids[position - 1]]
        return self.decode(merged)

    def _checked_ids(self, ids) -> list[int]:
        flat = np.asarray(ids.tolist() if hasattr(ids, "tolist") else ids, dtype=np.int64)
        if flat.ndim != 1:
            raise ValueError(f"expected one sequence of ids (1-D), got shape {flat.shape}")
        if flat.size and (flat.min() < 0 or flat.max() >= self.size):
            raise ValueError(f"character ids must lie in [0, {self.size}), got {flat.min()}..{flat.max()}")
        return flat.tolist()


# ---- LibriSpeech ------------------------------------------------------------------------------------------
def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """An audio file (FLAC, WAV, ...) decoded by PyAV as float32 mono at ``sample_rate``."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    chunks = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise DatasetError(f"{path} holds no audio stream")
            for frame in container.decode(container.streams.audio[0]):
                chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
        chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    except av.error.FFmpegError as err:
        raise DatasetError(f"cannot decode audio file {path} ({err}); replace the file") from err
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def _transcript_lines(path: Path):
    """(utterance id, transcript) of a LibriSpeech ``*.trans.txt`` file."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        utterance, _, transcript = line.strip().partition(" ")
        if not transcript.strip():
            raise DatasetError(f"{path}:{number}: expected '<utterance-id> TRANSCRIPT', got {line[:80]!r}")
        yield utterance, transcript.strip()


def read_librispeech(root: str | Path, max_items: int | None = None) -> tuple[list[np.ndarray], list[str]]:
    """Utterances of a LibriSpeech subset: (waves float32 mono at :data:`SAMPLE_RATE`, transcripts).

    ``root`` is a subset folder such as ``LibriSpeech/dev-clean`` (``<speaker>/<chapter>/`` folders, each
    with ``<speaker>-<chapter>.trans.txt`` and one ``<utterance-id>.flac`` per transcript line). Files are
    read in sorted order, at most ``max_items`` utterances (None: all). Transcripts are kept as written
    (LibriSpeech's are uppercase; :class:`CharVocab` lowercases).
    """
    root = Path(root)
    if max_items is not None and max_items < 0:
        raise ValueError(f"max_items must be None (all) or >= 0, got {max_items}")
    if not root.is_dir():
        raise DatasetError(f"LibriSpeech folder {root} not found; download a subset from openslr.org/12 "
                           "and pass its folder, e.g. LibriSpeech/dev-clean")
    transcripts = sorted(root.rglob("*.trans.txt"))
    if not transcripts:
        raise DatasetError(f"no *.trans.txt transcripts under {root}: is it a LibriSpeech subset folder?")
    waves, texts = [], []
    for transcript_file in transcripts:
        for utterance, text in _transcript_lines(transcript_file):
            if max_items is not None and len(texts) >= max_items:
                return waves, texts
            audio = transcript_file.parent / f"{utterance}.flac"
            if not audio.is_file():
                raise DatasetError(f"{transcript_file} names {utterance} but {audio} is missing; "
                                   "extract the subset again")
            waves.append(read_audio(audio))
            texts.append(text)
    return waves, texts
