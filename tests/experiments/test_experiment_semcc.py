"""`semcom experiment semcc` end to end on a tiny grid: training, reuse, records, tables, figures, errors."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import torch
import yaml

from semcom_core.channels import make_channel
from semcom_core.runs.config import ConfigError
from semcom_core.runs.image import load_run
from semcom_core.records import read_records
from semcom_core.experiments.figures import fraction_label
from semcom_core.experiments.ledger import Ledger
from semcom_core.experiments.schedule import RunTimes
from semcom_core.experiments.semcc_evaluation import Evaluator
from semcom_core.experiments.semcc import (PARTS, RunKey, ensure_runs, extra_seeds, keys_for, load_spec,
                                          run_config, run_experiment, training_order)

REPO = Path(__file__).resolve().parents[2]
TINY = {"trainer": {"limit_train_batches": 2, "max_epochs": 1, "progress_bar": False},
        "finetune": {"epochs": 1}, "dataset": {"val_size": 200}, "model": {"width": 8}}


def _spec(tmp_path: Path) -> Path:
    spec = {
        "methods": {m: str(REPO / f"configs/semcc/fmnist/{m}.yaml") for m in ("deepjscc", "deepsc", "semcc", "semre")},
        "classifiers": {"resnet20": {"arch": "resnet_cifar", "depth": 8, "max_epochs": 1},
                        "shufflenet_v2": {"arch": "shufflenet_v2", "width": 8, "max_epochs": 1}},
        "train_with": "resnet20", "eval_samples": 100,
        "ratios": ["1/24"], "snrs": [20], "channels": ["awgn"],
        "ablation": {"snr": 20, "ratios": ["1/24"], "channels": ["awgn"]},
        "alpha": {"methods": ["semcc"], "ratio": "1/24", "snr": 20, "channel": "awgn", "values": [0.5]},
        "robustness": {"test_snrs": [0, 20], "cases": [{"ratio": "1/24", "channel": "awgn", "train_snr": 20,
                                                         "classifier": "shufflenet_v2"}]},
        "visual": {"ratio": "1/24", "snr": 20, "channel": "awgn", "images": 4},
        "semre_ablation": {"ratio": "1/24", "snr": 20, "channel": "awgn", "probe_images": 200,
                           "base": {"loss": {"alpha": "ratio"}},
                           "variants": {"paper": {}, "transmitted-only": {"loss": {"semantic_views": "transmitted"}}}},
        "seeds": [0, 1], "seeded_points": [{"channel": "awgn", "snr": 20, "ratios": ["1/24"]}],
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("semcc")
    spec = _spec(tmp)
    out = run_experiment(spec, tmp / "runs", tmp / "out", overrides=TINY, jobs=2, device="cpu")
    return spec, tmp / "runs", out


def test_every_part_writes_records_and_figures(experiment):
    _, runs, out = experiment
    ratios = read_records(out / "ratios.jsonl")
    # the claim point ran on both seeds: two records per method, their spread in the table
    assert sorted(r["method"] for r in ratios) == sorted(["deepjscc", "deepsc", "semcc", "semre"] * 2)
    assert {(r["method"], r["seed"]) for r in ratios} == {(m, s) for m in ("deepjscc", "deepsc", "semcc", "semre")
                                                         for s in (0, 1)}
    assert (runs / "semcc-awgn-20dB-r1_24-seed1" / "run.json").is_file()
    assert " ± " in (out / "ratios.md").read_text()
    assert all(r["source"] == "experiment" and r["classifier"] == "resnet20" and r["samples"] == 100 for r in ratios)
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["psnr"] > 0 for r in ratios)
    ablation = read_records(out / "ablation.jsonl")     # the claim point: Table I on both seeds, with its spread
    assert sorted((r["variant"], r["seed"]) for r in ablation) == [(v, s) for v in ("baseline", "w/o CL", "w/o FT")
                                                                   for s in (0, 1)]
    assert "w/o FT" in (out / "ablation.md").read_text() and " ± " in (out / "ablation.md").read_text()
    assert [r["alpha"] for r in read_records(out / "alpha.jsonl")] == [0.5]
    robustness = read_records(out / "robustness.jsonl")
    semantic = [r for r in robustness if r["method"] in ("deepjscc", "deepsc", "semcc", "semre")]
    assert len(semantic) == 4 * 2 * 2  # methods x test SNRs x classifiers
    digital = [r for r in robustness if r not in semantic]   # the classical link, judged by the case's model
    assert {r["method"] for r in digital} == {"bpg+ldpc", "bpg+capacity"}
    assert {r["snr_db"] for r in digital} == {0.0, 20.0} and {r["classifier"] for r in digital} == {"shufflenet_v2"}
    assert {r["classifier"] for r in robustness} == {"resnet20", "shufflenet_v2"}
    for figure in ("ratios", "alpha", "robustness", "visual"):
        assert (out / f"{figure}.png").stat().st_size > 10_000
    semre = read_records(out / "semre.jsonl")
    assert sorted(r["variant"] for r in semre) == ["paper", "reference", "transmitted-only"]
    assert all(0.0 <= r["latent_probe_accuracy"] <= 1.0 and r["epochs_run"] == 1 for r in semre)
    assert (runs / "semre-awgn-20dB-r1_24-transmitted-only" / "run.json").is_file()
    table = (out / "semre.md").read_text()    # each variant against the DeepJSCC reference
    assert "| semre transmitted-only | `{\"loss\": {\"semantic_views\": \"transmitted\"}}` |" in table
    # every variant starts from the ablation's base (the paper's alpha = k/n), the sweep's SemRE from semre.yaml
    def loss_of(name):
        return json.loads((runs / name / "run.json").read_text())["config"]["loss"]
    assert loss_of("semre-awgn-20dB-r1_24-transmitted-only")["alpha"] == "ratio"
    assert loss_of("semre-awgn-20dB-r1_24-paper")["alpha"] == "ratio"
    configured_alpha = yaml.safe_load((REPO / "configs/semcc/fmnist/semre.yaml").read_text())["loss"]["alpha"]
    assert configured_alpha != "ratio" and loss_of("semre-awgn-20dB-r1_24")["alpha"] == configured_alpha
    assert '`{"loss": {"alpha": "ratio"}}` plus its override' in table
    assert table.count(" (+") + table.count(" (-") == 4 and "| deepjscc reference | `DeepJSCC` |" in table
    training = (out / "training.md").read_text()     # how each run trained, and the curves
    assert "| semcc-awgn-20dB-r1_24 | finetune | 1 / 1 |" in training and "total training time" in training
    assert (out / "training_curves.png").stat().st_size > 10_000
    results = (out / "results.md").read_text()       # the paper's results, from the records just written, then
    for section in ("## Accuracy (%) / PSNR (dB) versus k/n", "## Tables I-II", "## SemRE ablation", "![alpha.png]",
                    "![visual.png]", "![training_curves.png]"):     # every part's table and figure
        assert section in results, section
    assert "SemRE beats DeepJSCC in accuracy, AWGN 20 dB, k/n 1/24" in results
    assert results.count("| holds |") + results.count("| does not hold |") >= 5
    semcc_run = runs / "semcc-awgn-20dB-r1_24"
    assert (semcc_run / "transceiver.pretrain.safetensors").is_file()  # weights for "w/o FT"
    assert json.loads((semcc_run / "run.json").read_text())["stages"][1]["name"] == "finetune"


def test_finished_runs_are_reused(experiment, capsys):
    spec, runs, out = experiment
    before = {p: p.stat().st_mtime for p in runs.glob("*/run.json")}
    run_experiment(spec, runs, out, parts=["ratios"], overrides=TINY, jobs=1, device="cpu")
    assert "8 runs reused, 0 to train" in capsys.readouterr().out
    assert before == {p: p.stat().st_mtime for p in runs.glob("*/run.json")}


def test_progress_counts_a_runs_training_over_every_attempt(experiment, tmp_path, capsys):
    """The time-left estimate rests on each run's recorded training time (resumed attempts included), not
    on this call's share of it."""
    _, runs, _ = experiment
    cfg = yaml.safe_load((runs / "deepjscc-awgn-20dB-r1_24" / "config.yaml").read_text())
    key = RunKey("deepjscc", 1 / 24, "awgn", 20.0)
    ensure_runs({key: cfg}, tmp_path, jobs=1)
    said = capsys.readouterr().out
    recorded = json.loads((tmp_path / key.name / "run.json").read_text())["seconds"]
    assert f"[1/1] {key.name} trained in" in said
    assert f"({recorded:.0f} s over every attempt;" in said
    assert "at " in said and "1 at a time, about 0.0 h left)" in said


def test_a_time_budget_starts_only_the_runs_expected_to_finish(experiment, tmp_path, capsys):
    """A run whose method's finished runs took longer than the budget left is not started (it would be cut
    off), and is listed; given the time, it trains."""
    _, runs, out = experiment
    shutil.copytree(out / "ledger", tmp_path / "ledger")
    ledger = Ledger(tmp_path / "ledger")
    cfg = yaml.safe_load((runs / "deepjscc-awgn-20dB-r1_24" / "config.yaml").read_text())
    took = RunTimes(entry["run"] for entry in ledger.runs().values()).expected(cfg)
    key = RunKey("deepjscc", 1 / 24, "awgn", 20.0, seed=7)
    configs = {key: {**cfg, "seed": 7}}
    dirs = ensure_runs(configs, tmp_path / "runs", ledger=ledger, deadline=time.time() + took / 2)
    said = capsys.readouterr().out
    assert dirs == {} and not (tmp_path / "runs" / key.name).exists()
    assert "expected run times: deepjscc" in said
    assert f"1 runs left for a later call (none expected to finish in the 0 min left of the time budget): " \
           f"{key.name}" in said
    dirs = ensure_runs(configs, tmp_path / "runs", ledger=ledger, deadline=time.time() + 100 * took)
    said = capsys.readouterr().out
    assert (dirs[key] / "run.json").is_file() and "left for a later call" not in said
    assert "x the ledger's time per epoch here (median of 1 run of this call)" in said   # the pace it measured


def test_the_ledger_carries_the_sweep_to_a_machine_without_the_run_folders(experiment, tmp_path, capsys):
    spec, _, out = experiment
    shutil.copytree(out, tmp_path / "out")                   # the results as committed; no run folder
    before = {part: read_records(out / f"{part}.jsonl") for part in ("ratios", "semre")}
    run_experiment(spec, tmp_path / "runs", tmp_path / "out", parts=["ratios", "semre", "visual"], overrides=TINY,
                   device="cpu")
    said = capsys.readouterr().out
    assert "10 runs reused, 0 to train" in said               # nothing trained again
    assert "left out" not in said                              # the figure too, from the kept reconstructions
    assert (tmp_path / "out" / "visual.png").stat().st_size > 10_000
    for part, records in before.items():                      # the same records, read from the ledger
        assert read_records(tmp_path / "out" / f"{part}.jsonl") == records
    assert not (tmp_path / "runs" / "deepjscc-awgn-20dB-r1_24").exists()
    # the shared classifier came back from the ledger, byte for byte
    assert ((tmp_path / "runs" / "classifiers" / "resnet20.safetensors").read_bytes()
            == (out / "ledger" / "classifiers" / "resnet20.safetensors").read_bytes())
    entry = json.loads((out / "ledger" / "semre-awgn-20dB-r1_24-paper.json").read_text())
    assert entry["run"]["method"] == "semre" and entry["curves"]["train"]   # run.json and its validation curve


def test_reconstructions_come_back_from_the_ledger_and_damage_is_named(experiment, tmp_path, capsys):
    spec, runs, out = experiment
    shutil.copytree(out / "ledger", tmp_path / "ledger")
    ledger = Ledger(tmp_path / "ledger")
    ev = Evaluator({}, "fashion-mnist", 100, "cpu", ledger)
    first_of_class = [int((ev.labels == c).nonzero()[0]) for c in range(4)]     # the figure's images
    key = RunKey("semcc", 1 / 24, "awgn", 20.0)
    assert any('"reconstructions": ' + json.dumps(first_of_class) in point     # kept by the sweep
               for point in ledger.entry(key.name)["points"])
    bare = ev.reconstructions(tmp_path / "gone" / key.name, key, first_of_class)   # no weights: the ledger's
    fresh = Evaluator({}, "fashion-mnist", 100, "cpu", Ledger(tmp_path / "fresh")).reconstructions(
        runs / key.name, key, first_of_class)                                         # from the weights again
    assert bare.shape == (4, 1, 28, 28) and torch.equal(bare, fresh)
    _, transceiver, _ = load_run(runs / key.name)     # the run's own output, to within the 8-bit step
    with torch.no_grad():
        sent = transceiver(ev.images[first_of_class], make_channel("awgn", generator=torch.Generator().manual_seed(0)),
                           20.0).clamp(0, 1)
    assert float((bare - sent).abs().max()) <= 0.5 / 255 + 1e-6
    for _ in range(2):     # the sweep evaluates after every run; what is left out is told once
        assert ev.reconstructions(tmp_path / "gone" / "deepjscc-awgn-20dB-r1_48",
                                  RunKey("deepjscc", 1 / 48, "awgn", 20.0), [0]) is None
    assert capsys.readouterr().out.count("deepjscc-awgn-20dB-r1_48: no reconstructions in the ledger") == 1
    path = ledger.path(key.name)
    entry = json.loads(path.read_text())
    point = next(k for k in entry["points"] if "reconstructions" in k)
    entry["points"][point]["uint8_base64"] = entry["points"][point]["uint8_base64"][:-40]
    path.write_text(json.dumps(entry))
    with pytest.raises(ValueError, match="reconstructions of test images .* are damaged"):
        Evaluator({}, "fashion-mnist", 100, "cpu", Ledger(tmp_path / "ledger")).reconstructions(
            tmp_path / "gone" / key.name, key, first_of_class)


def test_table_one_reads_deepsc_from_a_ratio_sweeps_ledger_once_the_weights_are_gone(experiment, tmp_path, capsys):
    spec, runs, _ = experiment
    run_experiment(spec, runs, tmp_path / "out", parts=["ratios"], overrides=TINY, device="cpu", train=False)
    deepsc = {r["seed"]: r for r in read_records(tmp_path / "out" / "ratios.jsonl") if r["method"] == "deepsc"}
    # another machine, the ratio sweep's ledger only: no run folder, no Table I record measured yet
    run_experiment(spec, tmp_path / "bare", tmp_path / "out", parts=["ablation"], overrides=TINY, device="cpu",
                   train=False)
    ablation = read_records(tmp_path / "out" / "ablation.jsonl")
    without_cl = {r["seed"]: r for r in ablation if r["variant"] == "w/o CL"}
    assert sorted(without_cl) == [0, 1]                  # w/o CL is DeepSC's own record, read back
    for seed, record in without_cl.items():
        assert record["method"] == "semcc" and record["trained_as"] == "deepsc"
        assert (record["accuracy"], record["psnr"]) == (deepsc[seed]["accuracy"], deepsc[seed]["psnr"])
    assert not [r for r in ablation if r["variant"] == "w/o FT"]   # SemCC's stage-1 weights were never measured
    assert "semcc-awgn-20dB-r1_24: no record at 20 dB (resnet20, stage pretrain)" in capsys.readouterr().out


def test_a_damaged_or_foreign_ledger_entry_is_refused(experiment, tmp_path):
    spec, _, out = experiment
    shutil.copytree(out / "ledger", tmp_path / "out" / "ledger")
    entry = tmp_path / "out" / "ledger" / "deepjscc-awgn-20dB-r1_24.json"
    entry.write_text(entry.read_text()[:200])
    with pytest.raises(ValueError, match="deepjscc-awgn-20dB-r1_24.json is not valid JSON"):
        run_experiment(spec, tmp_path / "runs", tmp_path / "out", parts=["ratios"], overrides=TINY, device="cpu")
    shutil.copyfile(out / "ledger" / "deepsc-awgn-20dB-r1_24.json", entry)
    with pytest.raises(ValueError, match="records a 'deepsc' run whose config differs in.*method"):
        run_experiment(spec, tmp_path / "runs", tmp_path / "out", parts=["ratios"], overrides=TINY, device="cpu")


def test_a_run_folder_of_another_method_is_refused(experiment, tmp_path):
    spec, runs, _ = experiment
    shutil.copytree(runs / "classifiers", tmp_path / "runs" / "classifiers")
    shutil.copytree(runs / "deepsc-awgn-20dB-r1_24", tmp_path / "runs" / "semcc-awgn-20dB-r1_24")
    with pytest.raises(ValueError, match="holds a 'deepsc' run .*differs in.*method"):
        run_experiment(spec, tmp_path / "runs", tmp_path / "out", parts=["ratios"], overrides=TINY, device="cpu")
    assert not (tmp_path / "runs" / "deepjscc-awgn-20dB-r1_24").exists()  # refused before any training


def test_spec_errors_are_caught_before_training(tmp_path):
    spec = yaml.safe_load(_spec(tmp_path).read_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**spec, "ratio": ["1/24"]}))
    with pytest.raises(ConfigError, match="unknown keys"):
        load_spec(bad)
    bad.write_text(yaml.safe_dump({**spec, "ratios": ["1/5000"]}))
    with pytest.raises(ConfigError, match="no channel use"):
        run_experiment(bad, tmp_path / "runs", tmp_path / "out", parts=["ratios"], overrides=TINY)
    assert not (tmp_path / "runs").exists()


def test_seeded_points_name_the_methods_their_claims_compare(tmp_path):
    spec = yaml.safe_load(_spec(tmp_path).read_text())
    spec["ratios"], spec["seeds"] = ["1/24", "1/12"], [0, 1, 2]
    spec["seeded_points"] = [{"channel": "awgn", "snr": 20, "ratios": ["1/12"], "methods": ["semcc", "deepsc"]},
                             {"channel": "awgn", "snr": 20, "ratios": ["1/24"]}]
    path = tmp_path / "seeded.yaml"
    path.write_text(yaml.safe_dump(spec))
    seeded = {(k.method, fraction_label(k.ratio), k.seed) for k in keys_for(load_spec(path), "ratios") if k.seed}
    assert seeded == {(m, "1/12", s) for m in ("semcc", "deepsc") for s in (1, 2)} | \
        {(m, "1/24", s) for m in ("deepjscc", "deepsc", "semcc", "semre") for s in (1, 2)}
    # Table I's ablation at a seeded point trains on the same seeds (the same runs as the ratio sweep's)
    assert {k.seed for k in keys_for(load_spec(path), "ablation")} == {None, 1, 2}
    spec["seeded_points"][0]["methods"] = ["semcc", "sem-cc"]
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="seeded_points names methods the spec does not train: sem-cc"):
        load_spec(path)


def test_the_shipped_spec_describes_every_run_its_ledger_holds():
    """Each run in results/semcc-fmnist/ledger was trained with the config the shipped spec gives its point
    (the sweep refuses an entry that differs, which would stop `semcom experiment semcc --part all`)."""
    spec = load_spec(REPO / "configs/semcc/experiments/fmnist.yaml")
    ledger = Ledger(REPO / "results/semcc-fmnist/ledger")
    held = set(ledger.runs())
    keys = {key for part in PARTS for key in keys_for(spec, part)}
    checked = [key for key in keys if key.name in held]
    assert len(checked) >= 60             # the claim points and the grid so far
    for key in checked:
        cfg = run_config(spec, key, Path("classifier.safetensors"), {"trainer": {"compile": True}})
        assert ledger.holds(key.name, cfg, ignore=("classifier",)), key.name
    # and no entry is a run the spec no longer asks for
    assert held - {key.name for key in keys} == set()


def test_claim_points_train_first_then_the_parts_a_few_runs_complete():
    """The shipped spec's runs, once each: every seed of the claim points, then the visual figure's, the
    robustness figure's, Table I's and the alpha figure's runs, and the rest of the grid last."""
    spec = load_spec(REPO / "configs/semcc/experiments/fmnist.yaml")
    order = training_order(spec, list(PARTS))
    assert len(order) == len(set(order)) == len({key for part in PARTS for key in keys_for(spec, part)})
    claims = [i for i, key in enumerate(order) if key.seed is not None or extra_seeds(spec, key)]
    assert claims == list(range(len(claims)))
    rest = order[len(claims):]
    first_of = {part: next(i for i, key in enumerate(rest) if key in keys_for(spec, part))
                for part in ("visual", "robustness", "ablation", "alpha", "ratios")}
    assert first_of["visual"] == 0 < first_of["robustness"] < first_of["ablation"] < first_of["alpha"]
    assert first_of["ratios"] == 0               # the visual part's runs are grid points too
    alpha = [i for i, key in enumerate(rest) if key.alpha is not None]
    assert alpha == list(range(alpha[0], alpha[0] + 10))                 # before the grid fills in
    assert all(key in keys_for(spec, "ratios") for key in rest[alpha[-1] + 1:] if key.variant is None)
