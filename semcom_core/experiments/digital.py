"""`semcom experiment digital`: the classical links beside the semantic methods.

For every codec (BPG, JPEG), (LDPC rate, QAM order) pair, bandwidth ratio,
channel and SNR, the test images go through :class:`DigitalLink`; the best
pair per point is kept as the link's curve, as the papers report it, and
BPG + capacity is the bound no practical pair can beat. The test images and the
downstream classifier are those of the semantic experiment (its spec names
them), so the digital and semantic records compare like with like.

Outputs in ``--out``: ``digital.jsonl`` (every pair and the best per point),
``sweep.jsonl`` (versus SNR), ``digital.md``, ``versus-ratio.png`` (with the
semantic methods' records when found), ``versus-snr.png`` (the cliff).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from safetensors.torch import load_file

from ..baselines.images import ImageLadders, lost_image
from ..baselines.link import CodeChoice, default_choices
from ..baselines.source import make_source_codec
from ..records import read_records
from ..runs.config import ConfigError, load_config, parse_ratio
from ..data import load_dataset
from ..models import build_model
from ..models.jscc import jscc_geometry
from .ledger import Ledger
from .figures import markdown_ratio_table, plot_versus_ratio, plot_versus_snr, ratio_table
from .classical import best_per_point, points
from .semcc import load_spec, train_classifiers

__all__ = ["load_digital_spec", "best_per_point", "run_digital"]

_KEYS = {"semantic_spec", "semantic_results", "eval_samples", "codecs", "codes", "ratios", "snrs", "channels",
         "sweep", "seed"}


def load_digital_spec(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"digital experiment spec {path} not found")
    spec = yaml.safe_load(path.read_text()) or {}
    unknown = set(spec) - _KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; known: {sorted(_KEYS)}")
    for key in ("semantic_spec", "codecs", "codes", "ratios", "snrs", "channels"):
        if key not in spec:
            raise ConfigError(f"{path}: missing key {key!r}")
    spec["ratios"] = [parse_ratio(r) for r in spec["ratios"]]
    if "sweep" in spec:
        spec["sweep"]["ratios"] = [parse_ratio(r) for r in spec["sweep"]["ratios"]]
    spec.setdefault("seed", 0)
    return spec


def choices_of(spec: dict) -> list[CodeChoice]:
    codes = spec["codes"]
    return default_choices(codes.get("family", "wimax"), int(codes.get("n", 2304)),
                           codes.get("rates", ("1/2", "2/3", "3/4")), codes.get("qams", (4, 16, 64)))


class _Setup:
    """Test images, labels, the semantic experiment's classifier, the lost-image fallback."""

    def __init__(self, spec: dict, runs_dir: Path, overrides: dict):
        semantic = load_spec(spec["semantic_spec"])
        cfg = load_config(next(iter(semantic["methods"].values())), overrides)
        self.dataset, root = cfg["dataset"]["name"], cfg["dataset"]["root"]
        data = load_dataset(self.dataset, "test", root=root)
        self.samples = min(int(spec.get("eval_samples", 1000)), len(data))
        self.images, self.labels = data.batch(range(self.samples))
        self.n = int(self.images[0].numel())
        # the semantic sweep's classifier, from its ledger when the runs folder lacks it (the same weights)
        ledger = Ledger(Path(spec["semantic_results"]) / "ledger") if spec.get("semantic_results") else None
        info = train_classifiers(semantic, [semantic["train_with"]], runs_dir, overrides, ledger)[semantic["train_with"]]
        self.classifier_name = semantic["train_with"]
        self.classifier = build_model(info["spec"]).eval()
        self.classifier.load_state_dict(load_file(str(info["weights"])))
        self.fallback = lost_image(self.dataset, root)
        self.image_shape = tuple(self.images.shape[1:])

    def channel_uses(self, ratio: float) -> int:
        return jscc_geometry(self.image_shape, ratio)["k"]


def _write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def _curves(records: list[dict]) -> list[dict]:
    """The records a figure shows: the best pair per point and the capacity bound."""
    practical = [r for r in records if r.get("config") not in ("capacity", "best")]
    return best_per_point(practical) + [r for r in records if r.get("config") == "capacity"]


def run_digital(spec_path, runs_dir, out_dir, overrides: dict | None = None, progress: bool = True) -> Path:
    spec = load_digital_spec(spec_path)
    out_dir, runs_dir = Path(out_dir), Path(runs_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    setup = _Setup(spec, runs_dir, overrides or {})
    choices = choices_of(spec)
    records, sweep = [], []
    for codec_name in spec["codecs"]:
        ladders = ImageLadders(make_source_codec(codec_name), setup.images, progress)
        records += points(setup, ladders, codec_name, choices, spec["ratios"], [float(s) for s in spec["snrs"]],
                           spec["channels"], spec["seed"], f"{codec_name} versus k/n")
        if "sweep" in spec and codec_name == spec["sweep"].get("codec", "bpg"):
            s = spec["sweep"]
            sweep += points(setup, ladders, codec_name, choices, s["ratios"], [float(x) for x in s["snrs"]],
                             s["channels"], spec["seed"], f"{codec_name} versus SNR")
    curves = _curves(records)
    _write(out_dir / "digital.jsonl", records + [r for r in curves if r.get("config") == "best"])
    semantic = []
    if spec.get("semantic_results") and (Path(spec["semantic_results"]) / "ratios.jsonl").is_file():
        semantic = read_records(Path(spec["semantic_results"]) / "ratios.jsonl")
    shown = semantic + [r for r in curves if (r["channel"], r["snr_db"]) in
                        {(s["channel"], s["snr_db"]) for s in semantic} or not semantic]
    (out_dir / "digital.md").write_text(markdown_ratio_table(shown) + "\n")
    plot_versus_ratio(shown, out_dir / "versus-ratio.png",
                      title=f"{setup.dataset}: semantic methods and digital links versus k/n")
    print(ratio_table(shown, "accuracy"), ratio_table(shown, "psnr"), sep="\n\n")
    if sweep:
        _write(out_dir / "sweep.jsonl", sweep)
        plot_versus_snr(_curves(sweep) + _fixed_pairs(sweep, spec["sweep"].get("pairs", [])),
                        out_dir / "versus-snr.png", title=f"{setup.dataset}: digital links versus SNR (the cliff)")
    print(f"experiment digital: records and figures in {out_dir}")
    return out_dir


def _fixed_pairs(records: list[dict], pairs: list[str]) -> list[dict]:
    """Records of the named fixed pairs (e.g. the papers' 3/4 + 64-QAM), drawn as their own curves."""
    return [r for r in records if r.get("config") in pairs]
