"""Text of the MFMSC tasks: embedded fortunes, a subword tokenizer and two standard-format readers.

* :func:`read_fortunes` / :func:`topic_corpus` - the fortunes of the Debian ``fortunes`` package; the
  topic of a fortune is the file it comes from.
* :class:`SubwordTokenizer` - a sentencepiece model trained in memory, with byte fallback so that
  every text is encodable and decodes back unchanged.
* :func:`read_sst2_tsv` (GLUE SST-2) and :func:`read_europarl` (one sentence per line).

Readers return raw ``str`` items; the task layer tokenizes them. Missing or malformed files raise
:class:`~semcom_core.data.common.DatasetError` naming the file (and line) and how to fix it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import sentencepiece as spm

from ..common import DatasetError

__all__ = ["FORTUNES_ROOT", "SubwordTokenizer", "normalize_text", "read_europarl", "read_fortunes",
           "read_sst2_tsv", "topic_corpus"]

FORTUNES_ROOT = Path("/usr/share/games/fortunes")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def normalize_text(text: str) -> str:
    """``text`` with every run of whitespace (spaces, tabs, newlines) turned into one space, stripped."""
    return " ".join(text.split())


# ---- fortunes -------------------------------------------------------------------------------------------
def _resolve_overstrike(line: str) -> str:
    """The line as a terminal prints it: ``x<BS>y`` keeps ``y``, but an underline ``_`` never hides a letter.

    Some fortunes underline words the typewriter way (``____<BS><BS><BS><BS>only``) or add accents
    (``e<BS>'``); the result keeps the letters.
    """
    cells: list[str] = []
    cursor = 0
    for char in line:
        if char == "\b":
            cursor = max(cursor - 1, 0)
            continue
        if cursor < len(cells):
            if char != "_":
                cells[cursor] = char
        else:
            cells.append(char)
        cursor += 1
    return "".join(cells)


def _clean_fortune(block: str) -> str:
    """One fortune as a single line: overstrikes resolved, control characters dropped, spaces collapsed."""
    lines = [_resolve_overstrike(line) if "\b" in line else line for line in block.split("\n")]
    return normalize_text(_CONTROL.sub("", "\n".join(lines)))


def _fortune_file(topic: str, root: Path) -> Path:
    if not isinstance(topic, str) or not topic or "/" in topic or topic.endswith(".dat"):
        raise ValueError(f"topic must be the name of a fortune file such as 'computers', got {topic!r}")
    if not root.is_dir():
        raise DatasetError(f"fortunes folder {root} not found: install the fortunes with "
                           f"`apt-get install fortunes` or pass root= the folder holding the fortune files")
    path = root / topic
    if not path.is_file():
        topics = sorted(p.name for p in root.iterdir() if p.is_file() and not p.suffix)
        raise DatasetError(f"no fortune file {path}; topics in {root}: {', '.join(topics) or 'none'}")
    return path


def read_fortunes(topic: str, root: str | Path = FORTUNES_ROOT, max_chars: int | None = 200) -> list[str]:
    """The fortunes of file ``topic`` (e.g. ``"computers"``), in file order, each on a single line.

    Fortunes are the blocks between lines holding only ``%``. Whitespace runs become one space (an
    attribution such as ``-- Mark Twain`` stays part of the text), typewriter overstrikes are resolved and
    control characters dropped. Fortunes longer than ``max_chars`` characters (None: no limit) are
    left out, as are empty ones.
    """
    if max_chars is not None and max_chars < 1:
        raise ValueError(f"max_chars must be None (no limit) or >= 1, got {max_chars}")
    path = _fortune_file(topic, Path(root))
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DatasetError(f"fortune file {path} is not UTF-8 ({err}); reinstall the fortunes") from err
    blocks = re.split(r"^%[ \t]*$", content.replace("\r\n", "\n"), flags=re.MULTILINE)
    fortunes = [_clean_fortune(block) for block in blocks]
    return [text for text in fortunes if text and (max_chars is None or len(text) <= max_chars)]


def topic_corpus(topics: Sequence[str], root: str | Path = FORTUNES_ROOT, max_chars: int | None = 200,
                 per_topic: int | None = None, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Fortunes of several files labelled by topic: (texts, labels int64 = index of the topic in ``topics``).

    With ``per_topic`` the corpus is balanced: ``per_topic`` fortunes of every file, drawn at random
    (``seed``) and kept in file order. Texts come grouped by topic, in ``topics`` order.
    """
    if not topics:
        raise ValueError("topics is empty: name at least one fortune file, e.g. ['computers', 'science']")
    if per_topic is not None and per_topic < 1:
        raise ValueError(f"per_topic must be None (all fortunes) or >= 1, got {per_topic}")
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    labels: list[int] = []
    for label, topic in enumerate(topics):
        fortunes = read_fortunes(topic, root, max_chars)
        if per_topic is not None:
            if len(fortunes) < per_topic:
                raise ValueError(f"topic {topic!r} has {len(fortunes)} fortunes of at most {max_chars} characters, "
                                 f"fewer than per_topic={per_topic}; lower per_topic or raise max_chars")
            chosen = np.sort(rng.permutation(len(fortunes))[:per_topic])
            fortunes = [fortunes[i] for i in chosen]
        texts += fortunes
        labels += [label] * len(fortunes)
    return texts, np.asarray(labels, dtype=np.int64)


# ---- tokenizer ------------------------------------------------------------------------------------------
_BYTE_PIECES = 256
_SPECIAL_PIECES = 2          # <pad> and <unk>


class SubwordTokenizer:
    """A sentencepiece subword model: text <-> int64 token ids, 0 = padding.

    Out-of-vocabulary policy: the model is trained with byte fallback, so a character outside the
    vocabulary is encoded as the pieces of its UTF-8 bytes and :meth:`decode` restores it. Every text
    therefore round-trips losslessly up to :func:`normalize_text` (whitespace runs become one space), as
    long as it fits in ``max_len`` tokens. The unknown id exists but the encoder never produces it.
    """

    MODEL_TYPES = ("unigram", "bpe")

    def __init__(self, processor: spm.SentencePieceProcessor):
        if processor.pad_id() != 0:
            raise ValueError(f"the sentencepiece model has pad id {processor.pad_id()}, expected 0; "
                             "train it with SubwordTokenizer.train")
        self._sp = processor

    # -- construction --
    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 1000, model_type: str = "unigram") -> SubwordTokenizer:
        """A tokenizer trained on ``texts`` (deterministic: the same texts give the same model).

        The vocabulary holds ``<pad>`` (0), ``<unk>`` (1), the 256 byte pieces, every character of the
        corpus and learned subwords. When the corpus cannot fill ``vocab_size`` pieces, a unigram model
        comes out smaller (see :attr:`vocab_size`); a ``vocab_size`` below the minimum is a ValueError.
        """
        if model_type not in cls.MODEL_TYPES:
            raise ValueError(f"model_type must be one of {cls.MODEL_TYPES}, got {model_type!r}")
        corpus = []
        for index, sentence in enumerate(texts):
            if not isinstance(sentence, str):
                raise ValueError(f"texts[{index}] is a {type(sentence).__name__}, not a str")
            corpus.append(normalize_text(sentence))
        corpus = [sentence for sentence in corpus if sentence]      # empty texts teach nothing
        if not corpus:
            raise ValueError("cannot train a tokenizer on an empty corpus: pass non-empty texts")
        _check_vocab_size(corpus, vocab_size)
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(corpus), model_writer=model, vocab_size=vocab_size,
                model_type=model_type, pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, byte_fallback=True,
                character_coverage=1.0, normalization_rule_name="identity", hard_vocab_limit=False,
                num_threads=1, minloglevel=2)
        except RuntimeError as err:
            raise ValueError(f"sentencepiece could not train a {vocab_size}-piece {model_type} model on "
                             f"{len(corpus)} texts ({err}); change vocab_size or add texts") from err
        return cls.from_bytes(model.getvalue())

    @classmethod
    def from_bytes(cls, model_bytes: bytes) -> SubwordTokenizer:
        """The tokenizer stored in ``model_bytes`` (a serialized sentencepiece model, see :attr:`model_bytes`)."""
        processor = spm.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(bytes(model_bytes))
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"not a sentencepiece model ({err}); store SubwordTokenizer.model_bytes") from err
        return cls(processor)

    # -- properties --
    @property
    def model_bytes(self) -> bytes:
        """The serialized sentencepiece model, for storing the tokenizer inside a bundle."""
        return self._sp.serialized_model_proto()

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    @property
    def pad_id(self) -> int:
        return self._sp.pad_id()

    @property
    def unk_id(self) -> int:
        return self._sp.unk_id()

    # -- encoding --
    def _pieces(self, text) -> list[int]:
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        normalized = normalize_text(text)
        if not normalized:
            raise ValueError(f"cannot encode empty text {text!r}: drop it or replace it before tokenizing")
        return self._sp.encode(normalized, out_type=int)

    def encode(self, text: str, max_len: int) -> tuple[np.ndarray, int, bool]:
        """(ids int64 [max_len] padded with :attr:`pad_id`, number of real tokens, whether it was truncated).

        A text longer than ``max_len`` tokens keeps its first ``max_len`` tokens; a cut through the
        bytes of a character decodes to U+FFFD. Empty or whitespace-only text is a ValueError.
        """
        _check_max_len(max_len)
        pieces = self._pieces(text)
        kept = pieces[:max_len]
        ids = np.full(max_len, self.pad_id, dtype=np.int64)
        ids[:len(kept)] = kept
        return ids, len(kept), len(pieces) > max_len

    def encode_batch(self, texts: Sequence[str], max_len: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(ids int64 [N, max_len], lengths int64 [N], number of truncated texts); see :meth:`encode`."""
        _check_max_len(max_len)
        ids = np.full((len(texts), max_len), self.pad_id, dtype=np.int64)
        lengths = np.zeros(len(texts), dtype=np.int64)
        truncated = 0
        for row, text in enumerate(texts):
            ids[row], lengths[row], cut = self.encode(text, max_len)
            truncated += int(cut)
        return ids, lengths, truncated

    def decode(self, ids) -> str:
        """The text of token ids (list, numpy or torch, 1-D); padding ids are skipped wherever they are."""
        flat = np.asarray(ids.tolist() if hasattr(ids, "tolist") else ids, dtype=np.int64)
        if flat.ndim != 1:
            raise ValueError(f"decode takes one sequence of ids (1-D), got shape {flat.shape}")
        if flat.size and (flat.min() < 0 or flat.max() >= self.vocab_size):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size}), got {flat.min()}..{flat.max()}")
        return self._sp.decode([int(i) for i in flat if i != self.pad_id])


def _check_max_len(max_len: int) -> None:
    if int(max_len) < 1:
        raise ValueError(f"max_len must be >= 1 token, got {max_len}")


def _check_vocab_size(corpus: list[str], vocab_size: int) -> None:
    """ValueError when ``vocab_size`` cannot hold the special, byte and character pieces of ``corpus``."""
    characters = set().union(*map(set, corpus))      # the space becomes sentencepiece's U+2581 piece
    minimum = _SPECIAL_PIECES + _BYTE_PIECES + len(characters)
    if vocab_size < minimum:
        raise ValueError(f"vocab_size={vocab_size} is too small for this corpus: it needs at least {minimum} "
                         f"pieces (<pad>, <unk>, {_BYTE_PIECES} byte pieces and its {len(characters)} distinct "
                         f"characters); raise vocab_size to {minimum} or more")


# ---- standard formats -----------------------------------------------------------------------------------
def _open_lines(path: Path, what: str, hint: str):
    """(line number, text) of a UTF-8 file, without line ends; DatasetError naming a bad line."""
    if not path.is_file():
        raise DatasetError(f"{what} {path} not found; {hint}")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise DatasetError(f"{path}:{number}: not UTF-8 ({err}); is this the right file?") from err


def read_sst2_tsv(path: str | Path) -> tuple[list[str], np.ndarray]:
    """GLUE SST-2 ``train.tsv`` or ``dev.tsv``: (sentences, labels int64, 1 = positive).

    The file starts with the header ``sentence<TAB>label``; every other line holds one sentence and its
    0/1 label. The unlabelled ``test.tsv`` (``index<TAB>sentence``) is refused.
    """
    path = Path(path)
    texts: list[str] = []
    labels: list[int] = []
    hint = "download SST-2 from the GLUE benchmark and pass its train.tsv or dev.tsv"
    lines = _open_lines(path, "SST-2 file", hint)
    header = next(lines, (1, None))[1]
    if header is None or header.split("\t") != ["sentence", "label"]:
        raise DatasetError(f"{path}:1: header is {header!r}, expected 'sentence<TAB>label' "
                           "(GLUE's test.tsv has no labels: use train.tsv or dev.tsv)")
    for number, line in lines:
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or fields[1].strip() not in ("0", "1") or not fields[0].strip():
            raise DatasetError(f"{path}:{number}: expected 'sentence<TAB>0 or 1', got {line[:80]!r}")
        texts.append(fields[0].strip())
        labels.append(int(fields[1]))
    return texts, np.asarray(labels, dtype=np.int64)


def read_europarl(path: str | Path, max_chars: int | None = None) -> list[str]:
    """Sentences of a Europarl text file (one per line, UTF-8), in file order.

    Blank lines and the markup lines of the raw release (starting with ``<``, e.g. ``<CHAPTER ID=1>``)
    are skipped, and so are sentences longer than ``max_chars`` characters (None: no limit).
    """
    if max_chars is not None and max_chars < 1:
        raise ValueError(f"max_chars must be None (no limit) or >= 1, got {max_chars}")
    sentences = []
    hint = "download a Europarl text file (e.g. europarl-v7.fr-en.en) and pass its path"
    for _, line in _open_lines(Path(path), "Europarl file", hint):
        sentence = line.strip()
        if sentence and not sentence.startswith("<") and (max_chars is None or len(sentence) <= max_chars):
            sentences.append(sentence)
    return sentences
