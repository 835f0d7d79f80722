"""MFMSC text and speech data: fortunes, the sentencepiece tokenizer, SST-2 / Europarl readers, espeak-ng
phrases and their cache, Kaldi filter banks, CTC characters and the LibriSpeech reader.

Everything runs for real (fortune files, espeak-ng, sentencepiece, kaldi_native_fbank, PyAV); the parts
that need a Debian package are skipped when it is missing."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from semcom_core.data.common import DatasetError
from semcom_core.data.mfmsc import speech, text
from semcom_core.data.mfmsc.speech import CharVocab, fbank_features
from semcom_core.data.mfmsc.text import SubwordTokenizer, normalize_text

needs_fortunes = pytest.mark.skipif(not (text.FORTUNES_ROOT / "computers").is_file(),
                                    reason="fortunes not installed")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


# ---- fortunes -------------------------------------------------------------------------------------------
def test_fortune_file_parsing_on_a_written_file(tmp_path):
    (tmp_path / "mine").write_text("First one.\n%\n  Two\tlines\nhere.\n\t\t-- Someone\n%\n\n%\n"
                                   "Under_\bline and *____\b\b\b\bonly* once.\n%\n" + "x" * 30 + "\n%\n")
    assert text.read_fortunes("mine", root=tmp_path, max_chars=29) == [
        "First one.", "Two lines here. -- Someone", "Underline and *only* once."]
    assert len(text.read_fortunes("mine", root=tmp_path, max_chars=None)) == 4


@needs_fortunes
def test_installed_fortunes_are_single_clean_lines():
    fortunes = text.read_fortunes("computers")
    assert len(fortunes) > 300
    assert all(0 < len(f) <= 200 for f in fortunes)
    assert not any(f == "%" or "\n%" in f for f in fortunes)
    assert not any(c in f for f in fortunes for c in "\n\t\b\x07") and not any("  " in f for f in fortunes)
    assert "Calm down, it's *only* ones and zeroes." in fortunes       # an overstruck underline, resolved
    short = text.read_fortunes("computers", max_chars=60)
    assert short and all(len(f) <= 60 for f in short) and set(short) <= set(fortunes)


def test_missing_fortunes_name_the_package(tmp_path):
    with pytest.raises(DatasetError, match="apt-get install fortunes"):
        text.read_fortunes("computers", root=tmp_path / "nothing")
    (tmp_path / "science").write_text("E = mc^2\n%\n")
    with pytest.raises(DatasetError, match="science"):
        text.read_fortunes("computers", root=tmp_path)       # the message lists the topics there are


@needs_fortunes
def test_topic_corpus_is_balanced_and_seeded():
    texts, labels = text.topic_corpus(["computers", "science"], per_topic=20, seed=3)
    assert len(texts) == 40 and labels.dtype == np.int64
    assert labels.tolist() == [0] * 20 + [1] * 20
    assert set(texts[:20]) <= set(text.read_fortunes("computers"))
    assert text.topic_corpus(["computers", "science"], per_topic=20, seed=3)[0] == texts
    assert text.topic_corpus(["computers", "science"], per_topic=20, seed=4)[0] != texts
    with pytest.raises(ValueError, match="per_topic"):
        text.topic_corpus(["computers"], max_chars=20, per_topic=10_000)


# ---- tokenizer ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus() -> list[str]:
    if not (text.FORTUNES_ROOT / "computers").is_file():
        pytest.skip("fortunes not installed")
    return text.topic_corpus(["computers", "science"])[0]


@pytest.fixture(scope="module")
def tokenizer(corpus) -> SubwordTokenizer:
    return SubwordTokenizer.train(corpus, vocab_size=800)


def test_tokenizer_round_trips_training_text(tokenizer, corpus):
    assert tokenizer.vocab_size == 800 and tokenizer.pad_id == 0
    for sentence in corpus[:100]:
        ids, length, truncated = tokenizer.encode(sentence, 256)
        assert not truncated and 0 < length < len(sentence) + 1
        assert tokenizer.decode(ids) == normalize_text(sentence)
    assert tokenizer.decode(tokenizer.encode("  Hello,\tworld\n ", 16)[0]) == "Hello, world"


def test_out_of_vocabulary_characters_round_trip_through_bytes(tokenizer):
    ids, length, truncated = tokenizer.encode("naïve ☃ 漢字", 64)
    assert not truncated and tokenizer.unk_id not in ids[:length]
    assert length >= len("☃漢字".encode("utf-8"))                 # one byte piece per UTF-8 byte at least
    assert tokenizer.decode(ids) == "naïve ☃ 漢字"
    assert tokenizer.decode(torch.as_tensor(ids)) == "naïve ☃ 漢字"


def test_padding_and_truncation(tokenizer):
    ids, length, truncated = tokenizer.encode("Computers are useless.", 40)
    assert ids.shape == (40,) and ids.dtype == np.int64 and not truncated
    assert (ids[length:] == tokenizer.pad_id).all() and (ids[:length] != tokenizer.pad_id).all()
    long_text = "The computer is a moron and the programmer is a genius. " * 5
    ids, length, truncated = tokenizer.encode(long_text, 8)
    assert truncated and length == 8 and (ids != tokenizer.pad_id).all()
    assert normalize_text(long_text).startswith(tokenizer.decode(ids).strip())
    batch, lengths, cut = tokenizer.encode_batch(["Short.", long_text, "Bye."], 8)
    assert batch.shape == (3, 8) and lengths.tolist()[1] == 8 and cut == 1


@pytest.mark.parametrize("bad", ["", "   \t\n"])
def test_empty_text_is_refused(tokenizer, bad):
    with pytest.raises(ValueError, match="empty text"):
        tokenizer.encode(bad, 8)


def test_bad_arguments_are_refused(tokenizer):
    with pytest.raises(ValueError, match="str"):
        tokenizer.encode(42, 8)
    with pytest.raises(ValueError, match="max_len"):
        tokenizer.encode("hello", 0)
    with pytest.raises(ValueError, match="lie in"):
        tokenizer.decode([3, tokenizer.vocab_size])
    with pytest.raises(ValueError, match="sentencepiece"):
        SubwordTokenizer.from_bytes(b"not a model")


def test_model_bytes_round_trip_and_deterministic_training(tokenizer, corpus):
    copy = SubwordTokenizer.from_bytes(tokenizer.model_bytes)
    assert copy.vocab_size == tokenizer.vocab_size
    ids = tokenizer.encode_batch(corpus[:50] + ["naïve ☃"], 64)[0]
    assert np.array_equal(copy.encode_batch(corpus[:50] + ["naïve ☃"], 64)[0], ids)
    assert SubwordTokenizer.train(corpus, vocab_size=800).model_bytes == tokenizer.model_bytes


def test_vocabulary_size_limits():
    small_corpus = ["red apple", "green tree", "blue car"] * 5
    shrunk = SubwordTokenizer.train(small_corpus, vocab_size=1000)     # cannot fill 1000: comes out smaller
    assert shrunk.vocab_size < 1000
    assert shrunk.decode(shrunk.encode("green apple", 16)[0]) == "green apple"
    with pytest.raises(ValueError, match="at least 2[0-9]{2}"):       # 256 bytes + specials + characters
        SubwordTokenizer.train(small_corpus, vocab_size=100)
    with pytest.raises(ValueError, match="model_type"):
        SubwordTokenizer.train(small_corpus, model_type="words")


# ---- SST-2 and Europarl ---------------------------------------------------------------------------------
def test_sst2_reader(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text("sentence\tlabel\nit 's a charming journey . \t1\n\nunfunny and dull\t0\n")
    texts, labels = text.read_sst2_tsv(path)
    assert texts == ["it 's a charming journey .", "unfunny and dull"]
    assert labels.tolist() == [1, 0] and labels.dtype == np.int64


@pytest.mark.parametrize("content, where", [
    ("sentence\tlabel\ngood\t1\nno label here\n", ":3:"),
    ("sentence\tlabel\ngood\t1\nbad\t2\n", ":3:"),
    ("index\tsentence\n0\tunlabelled\n", ":1:"),
    ("", ":1:"),
])
def test_sst2_malformed_lines_are_named(tmp_path, content, where):
    path = tmp_path / "train.tsv"
    path.write_text(content)
    with pytest.raises(DatasetError, match=where):
        text.read_sst2_tsv(path)


def test_europarl_reader(tmp_path):
    path = tmp_path / "europarl.en"
    path.write_text('<CHAPTER ID=1>\nResumption of the session\n\n<SPEAKER ID=1 NAME="Président">\n'
                    "  Ça va très bien, merci.  \n" + "word " * 40 + "\n", encoding="utf-8")
    assert text.read_europarl(path, max_chars=100) == ["Resumption of the session", "Ça va très bien, merci."]
    assert len(text.read_europarl(path)) == 3
    path.write_bytes(b"fine\n\xff\xfe broken\n")
    with pytest.raises(DatasetError, match=":2:"):
        text.read_europarl(path)
    with pytest.raises(DatasetError, match="not found"):
        text.read_europarl(tmp_path / "missing.en")


# ---- phrases and espeak-ng ------------------------------------------------------------------------------
def test_phrases_use_the_fixed_words():
    phrases = speech.make_phrases(50, seed=1)
    assert phrases == speech.make_phrases(50, seed=1) != speech.make_phrases(50, seed=2)
    assert speech.make_phrases(10, seed=1) == phrases[:10]
    for phrase in phrases:
        words = phrase.split(" ")
        assert 2 <= len(words) <= 3 and set(words) <= set(speech.PHRASE_WORDS) and len(set(words)) == len(words)


@needs_espeak
def test_synthesis_duration_voices_and_determinism():
    wave = speech.synthesize("red apple left", "en-us", 170, 50)
    assert wave.dtype == np.float32 and wave.ndim == 1 and np.abs(wave).max() <= 1.0
    assert 0.3 <= len(wave) / speech.SAMPLE_RATE <= 4.0
    assert np.sqrt(np.mean(wave ** 2)) > 0.01                        # speech, not silence
    assert np.array_equal(speech.synthesize("red apple left", "en-us", 170, 50), wave)
    other = speech.synthesize("red apple left", "en-gb-scotland+f2", 170, 50)
    assert len(other) != len(wave) or not np.allclose(other, wave, atol=0.05)
    slower = speech.synthesize("red apple left", "en-us", 100, 50)
    assert len(slower) > 1.2 * len(wave)


@needs_espeak
def test_synthesis_errors():
    with pytest.raises(DatasetError, match="does not exist"):         # espeak-ng's own stderr
        speech.synthesize("red", voice="xx-nonexistent")
    with pytest.raises(ValueError, match="speed"):
        speech.synthesize("red", speed=10)
    with pytest.raises(ValueError, match="empty"):
        speech.synthesize("  ")


@needs_espeak
def test_noise_is_added_at_the_drawn_snr():
    settings = dict(voices=("en-us",), speeds=(160, 160), pitches=(50, 50), noise_snr_db=(20.0, 20.0))
    waves, texts = speech.spoken_phrases(2, seed=5, cache=False, **settings)
    for noisy, phrase in zip(waves, texts):
        clean = speech.synthesize(phrase, "en-us", 160, 50)
        snr = 10 * math.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean((noisy - clean) ** 2.0))
        assert snr == pytest.approx(20.0, abs=0.7)


@needs_espeak
def test_spoken_phrases_cache(tmp_path):
    waves, texts = speech.spoken_phrases(3, seed=1, cache_dir=tmp_path)
    assert texts == speech.make_phrases(3, seed=1) and len(waves) == 3
    assert all(w.dtype == np.float32 and np.abs(w).max() <= 1.0 and 0.3 <= len(w) / 16000 <= 4 for w in waves)
    (cache_file,) = tmp_path.glob("*.npz")
    again, _ = speech.spoken_phrases(3, seed=1, cache_dir=tmp_path)
    assert all(np.array_equal(a, b) for a, b in zip(waves, again))
    fresh, _ = speech.spoken_phrases(3, seed=1, cache=False)         # same set without the cache
    assert all(np.array_equal(a, b) for a, b in zip(waves, fresh))
    other, other_texts = speech.spoken_phrases(3, seed=2, cache_dir=tmp_path)
    assert other_texts != texts and len(list(tmp_path.glob("*.npz"))) == 2

    # The cache is really read: a planted file with silent audio comes back as is.
    with np.load(cache_file) as data:
        planted = dict(data)
    np.savez(cache_file, audio=np.zeros_like(planted["audio"]), offsets=planted["offsets"], texts=planted["texts"])
    assert all(not w.any() for w in speech.spoken_phrases(3, seed=1, cache_dir=tmp_path)[0])

    # A corrupt file is regenerated with a warning, and rewritten.
    cache_file.write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.warns(UserWarning, match="unreadable"):
        regenerated, _ = speech.spoken_phrases(3, seed=1, cache_dir=tmp_path)
    assert all(np.array_equal(a, b) for a, b in zip(waves, regenerated))
    with np.load(cache_file) as data:
        assert np.array_equal(data["audio"], planted["audio"])


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SEMCOM_CACHE", str(tmp_path))
    assert speech.default_cache_dir() == tmp_path / "mfmsc-speech"
    monkeypatch.delenv("SEMCOM_CACHE")
    assert speech.default_cache_dir() == Path.home() / ".cache" / "semcom" / "mfmsc-speech"


# ---- filter banks ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("samples", [400, 559, 560, 12345, 16000])
def test_fbank_frames_follow_kaldi_snip_edges(samples):
    wave = np.random.default_rng(0).normal(0, 0.1, samples)
    feats = fbank_features(wave)
    assert feats.shape == (1 + (samples - 400) // 160, 40) and feats.dtype == np.float32
    assert fbank_features(wave, num_bins=80).shape[1] == 80


def test_fbank_is_log_power():
    wave = np.random.default_rng(1).normal(0, 0.1, 8000)
    difference = fbank_features(wave) - fbank_features(0.5 * wave)     # half the amplitude: a quarter of the power
    assert np.allclose(difference, math.log(4.0), atol=1e-3)


def test_fbank_of_silence_is_finite():
    feats = fbank_features(np.zeros(16000, np.float32))
    assert np.isfinite(feats).all()
    assert np.allclose(feats, math.log(np.finfo(np.float32).eps), atol=1e-3)   # Kaldi's energy floor


def test_fbank_clips_samples_outside_unit_range():
    wave = np.sin(np.linspace(0, 200 * np.pi, 4000)) * 1.5
    assert speech.clip_count(wave) > 1000 and speech.clip_count(np.clip(wave, -1, 1)) == 0
    assert np.array_equal(fbank_features(wave), fbank_features(np.clip(wave, -1, 1)))


def test_fbank_input_errors():
    with pytest.raises(ValueError, match="at least 400 samples"):
        fbank_features(np.zeros(399))
    with pytest.raises(ValueError, match="NaN"):
        fbank_features(np.r_[np.zeros(500), np.nan])
    with pytest.raises(ValueError, match="NaN or infinite"):
        fbank_features(np.r_[np.zeros(500), np.inf])
    with pytest.raises(ValueError, match="1-D"):
        fbank_features(np.zeros((2, 800)))


# ---- CTC characters -------------------------------------------------------------------------------------
def test_char_vocab_round_trip_and_dropped_characters():
    vocab = CharVocab()
    assert vocab.size == 29 and vocab.BLANK == 0
    ids, dropped = vocab.encode_checked("Hello, World's  END")
    assert ids.dtype == np.int64 and 0 not in ids and dropped == 1
    assert vocab.decode(ids) == "hello world's end"
    assert vocab.decode(vocab.encode("route 66 north")) == "route north"
    for phrase in speech.make_phrases(20, seed=0):
        assert vocab.decode(vocab.encode(phrase)) == phrase
    with pytest.raises(ValueError, match="lie in"):
        vocab.decode([29])


def test_ctc_greedy_collapses_repeats_then_drops_blanks():
    vocab = CharVocab()
    a, b, space = (vocab.CHARS.index(char) + 1 for char in "ab ")
    blank = vocab.BLANK
    assert vocab.decode([a, space, b]) == "a b"
    assert vocab.ctc_greedy([a, a, blank, b]) == "ab"
    assert vocab.ctc_greedy([a, blank, a]) == "aa"
    assert vocab.ctc_greedy([blank, a, a, a, space, space, b, b, blank]) == "a b"
    assert vocab.ctc_greedy(torch.tensor([blank, blank])) == ""
    assert vocab.ctc_greedy(np.array([b, b, b], np.int64)) == "b"


# ---- LibriSpeech ----------------------------------------------------------------------------------------
def _write_flac(path: Path, samples: np.ndarray, rate: int) -> None:
    """``samples`` (float in [-1, 1]) as a mono 16-bit FLAC file written by PyAV."""
    pcm = (samples * 32767).astype(np.int16)[None]
    with av.open(str(path), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)


TONE = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)        # one second of A4 at 16 kHz


@pytest.fixture
def librispeech(tmp_path) -> Path:
    chapter = tmp_path / "dev-clean" / "19" / "198"
    chapter.mkdir(parents=True)
    _write_flac(chapter / "19-198-0000.flac", TONE, 16000)
    _write_flac(chapter / "19-198-0001.flac", TONE[:4000:2], 8000)       # a quarter second at 8 kHz
    (chapter / "19-198.trans.txt").write_text("19-198-0000 NORTHANGER ABBEY\n19-198-0001 THIS LITTLE WORK\n")
    return tmp_path / "dev-clean"


def test_librispeech_reader(librispeech):
    waves, texts = speech.read_librispeech(librispeech)
    assert texts == ["NORTHANGER ABBEY", "THIS LITTLE WORK"]
    assert [w.dtype for w in waves] == [np.float32, np.float32]
    assert len(waves[0]) == 16000 and len(waves[1]) == 4000               # resampled to 16 kHz
    assert np.abs(waves[0]).max() == pytest.approx(0.5, abs=0.01)
    assert np.allclose(waves[1][500:3500], TONE[500:3500], atol=0.02)
    assert speech.read_librispeech(librispeech, max_items=1)[1] == ["NORTHANGER ABBEY"]


def test_librispeech_errors(librispeech, tmp_path):
    (librispeech / "19" / "198" / "19-198-0001.flac").unlink()
    with pytest.raises(DatasetError, match="19-198-0001.flac is missing"):
        speech.read_librispeech(librispeech)
    with pytest.raises(DatasetError, match="not found"):
        speech.read_librispeech(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="trans.txt"):
        speech.read_librispeech(tmp_path / "empty")
