"""`semcom experiment mfmsc` end to end on a tiny spec with two seeds: runs, records, tables, claims, figures,
reuse."""

from __future__ import annotations

import json

import pytest
import yaml

from semcom_core.cli.main import main


def test_experiment_command_end_to_end(tmp_path, capsys):
    base = {"seed": 0, "tasks": ["image_cls", "text_recon", "vqa"],
            "data": {"train_size": 16, "test_size": 8, "vocab_size": 400, "cache_dir": str(tmp_path / "cache")},
            "model": {"dim": 24, "image_width": 8, "fusion_layers": 1, "fusion_heads": 12, "encoder_heads": 4,
                      "channel_hidden": 16, "symbols_per_token": 4, "text_layers": 1, "vit_layers": 1},
            "train": {"epochs": 1, "batch_size": 8}, "trainer": {"progress_bar": False}}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    spec = {"base": str(tmp_path / "base.yaml"),
            "methods": {"MFMSC": {"arch": "mfmsc", "joint": True}, "MFSC": {"arch": "mfmsc", "joint": False},
                        "MMSC": {"arch": "mmsc", "joint": True}, "U-DeepSC": {"arch": "udeepsc", "joint": True}},
            "awgn_snr_db": [0, 20], "rayleigh_snr_db": [10], "rayleigh_tasks": ["vqa"],
            "classical": {"default": 4}, "seeds": [0, 1]}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    args = ["experiment", "mfmsc", "--spec", str(tmp_path / "spec.yaml"), "--runs", str(tmp_path / "runs"),
            "--out", str(tmp_path / "out")]
    main(args)
    records = [json.loads(line) for line in (tmp_path / "out" / "records.jsonl").read_text().splitlines()]
    assert {r["seed"] for r in records} == {0, 1}
    records_0 = [r for r in records if r["seed"] == 0]
    methods = {r["method"] for r in records}
    assert methods == {"MFMSC", "MFSC", "MMSC", "U-DeepSC", "Classical", "Question prior"}
    # every method: 3 tasks x 2 AWGN points + vqa on Rayleigh; the question-only prior: vqa at each point
    for method in methods - {"Question prior"}:
        assert len([r for r in records_0 if r["method"] == method]) == 3 * 2 + 1, method
    prior = [r for r in records_0 if r["method"] == "Question prior"]
    assert len(prior) == 3 and {r["task"] for r in prior} == {"vqa"}
    assert len({r["accuracy"] for r in prior}) == 1 and 0 < prior[0]["accuracy"] < 1   # no image: SNR-free
    assert "Question prior" in (tmp_path / "out" / "results.md").read_text()
    vqa = {r["method"]: r for r in records_0 if r["task"] == "vqa" and r["channel"] == "awgn" and r["snr_db"] == 0}
    assert vqa["MFMSC"]["symbols_per_instance"] == 4                       # one fused token
    assert vqa["MMSC"]["symbols_per_instance"] > vqa["U-DeepSC"]["symbols_per_instance"] > 4
    overhead = json.loads((tmp_path / "out" / "overhead.json").read_text())
    fusion = {row["task"]: row for row in overhead["fusion"]}
    assert abs(fusion["vqa"]["ratio"] - fusion["vqa"]["one_over_L"]) < 1e-6
    for name in ("results.md", "fig10_awgn.png", "fig11_rayleigh.png", "training_losses.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    results = (tmp_path / "out" / "results.md").read_text()
    assert "Fusion's 1/L" in results and "Seeds: 0, 1 (mean ± standard deviation)" in results
    assert " ± " in results.split("## AWGN")[1].split("##")[0]
    claims = results.split("## The paper's claims")[1].split("##")[0]
    assert "MFMSC beats MMSC" in claims and "Fusion cuts the vqa overhead against MMSC" in claims
    assert all(row.rstrip(" |").endswith(("holds", "does not hold")) for row in claims.splitlines() if row.startswith("| ")
               and not row.startswith("| claim"))
    # a second call trains nothing and reuses every seed's evaluation
    capsys.readouterr()
    main(args + ["--no-train"])
    out = capsys.readouterr().out
    assert out.count("every run and its evaluation reused") == 2 and "training" not in out
    # the eval command on one of the bundles, with the bundle's own tokenizer
    capsys.readouterr()
    main(["mfmsc", "eval", "--bundle", str(tmp_path / "runs" / "seed0" / "MFMSC"), "--tasks", "vqa", "--snr", "10",
          "--channel", "rayleigh"])
    assert "mfmsc eval: mfmsc vqa rayleigh 10 dB: accuracy" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        main(["mfmsc", "eval", "--bundle", str(tmp_path / "runs" / "seed0" / "MFSC" / "image_cls"), "--tasks", "vqa"])
    assert stop.value.code == 2 and "does not serve vqa" in capsys.readouterr().err


def test_claims_use_the_spread_over_seeds():
    from semcom_core.experiments.mfmsc import claims_rows

    def record(method, task, value, seed, snr=20.0, metric="accuracy"):
        return {"method": method, "task": task, "channel": "awgn", "snr_db": snr, "seed": seed, "metric": metric,
                metric: value}

    spec = {"awgn_snr_db": [0, 20], "rayleigh_snr_db": []}
    clear = [record("MFMSC", "vqa", v, s) for s, v in enumerate([0.60, 0.62, 0.61])]
    clear += [record("MMSC", "vqa", v, s) for s, v in enumerate([0.40, 0.42, 0.41])]
    clear += [record("Question prior", "vqa", 0.38, s) for s in range(3)]
    rows = {r["claim"]: r for r in claims_rows(clear, [], spec)}
    assert rows["Fusion improves multi-modal tasks (about 10 %): MFMSC beats MMSC"]["verdict"] == "holds"
    assert rows["VQA looks at the image: MFMSC beats the question-only prior by 0.1 or more"]["verdict"] == "holds"
    # the same means, but one seed of MMSC far off: the gap is inside the spread
    noisy = clear[:3] + [record("MMSC", "vqa", v, s) for s, v in enumerate([0.10, 0.42, 0.71])] + clear[6:]
    rows = {r["claim"]: r for r in claims_rows(noisy, [], spec)}
    assert rows["Fusion improves multi-modal tasks (about 10 %): MFMSC beats MMSC"]["verdict"] == "does not hold"
    overhead = [{"method": "MFMSC", "task": "vqa", "symbols": 16.0}, {"method": "MMSC", "task": "vqa", "symbols": 800.0}]
    rows = {r["claim"]: r for r in claims_rows(clear, overhead, spec)}
    assert rows["Fusion cuts the vqa overhead against MMSC"]["verdict"] == "holds"
    assert rows["Fusion cuts the vqa overhead against MMSC"]["ours"].startswith("98.0 %")
