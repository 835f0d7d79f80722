"""The flowgraphs in flowgraphs/ compile with grcc and the loopback agrees with semcom_core."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gnuradio.gr", reason="GNU Radio is not importable by this Python")

REPO = Path(__file__).resolve().parents[2]
# the simulated flowgraphs and the USRP ones in hardware/ (which compile without a radio attached)
FLOWGRAPHS = sorted((REPO / "flowgraphs").glob("*.grc")) + sorted((REPO / "hardware").glob("*.grc"))
SHIPPED_BUNDLES = [REPO / "bundles" / name for name in ("deepjscc-fmnist-1_12", "semcc-fmnist-1_24", "semre-fmnist-1_24")]

from gnuradio.semcom import running   # tests/flowgraphs/conftest.py: installed, else the source tree

needs_grcc = pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc (GNU Radio Companion compiler) not on PATH")


@pytest.fixture(scope="module", params=SHIPPED_BUNDLES, ids=[p.name for p in SHIPPED_BUNDLES])
def bundle(request) -> str:
    """Each shipped bundle: the same flowgraph runs any method's bundle, only the path changes."""
    if not (request.param / "card.json").is_file():
        pytest.fail(f"shipped bundle {request.param} is missing")
    return str(request.param)


def test_there_are_flowgraphs():
    assert {"semantic_loopback.grc", "rgbd_devices.grc"} <= {p.name for p in FLOWGRAPHS}
    assert {"usrp_tx.grc", "usrp_rx.grc", "usrp_loopback.grc"} <= {p.name for p in FLOWGRAPHS if p.parent.name == "hardware"}


@needs_grcc
@pytest.mark.parametrize("grc", FLOWGRAPHS, ids=[p.stem for p in FLOWGRAPHS])
def test_flowgraph_compiles_and_imports(grc, tmp_path):
    generated = running.compile_grc(grc, tmp_path)
    assert generated.is_file() and generated.suffix == ".py"
    assert "from gnuradio import semcom" in generated.read_text()     # its semcom blocks made it into the script
    cls = running.load_top_block_class(generated)
    from gnuradio import gr

    assert issubclass(cls, gr.top_block)


def _semcom_eval(bundle_path, n, snr_db, seed=1234):
    """The same point computed by `semcom eval` (evaluate_bundle on the first n test images)."""
    from semcom_core.bundles import load_bundle
    from semcom_core.bundles.evaluate import evaluate_bundle

    (record,) = evaluate_bundle(load_bundle(bundle_path), "awgn", [snr_db], samples=n, seed=seed, progress=False)
    return record


@needs_grcc
@pytest.mark.slow
def test_loopback_agrees_with_semcom_core(bundle, tmp_path):
    n, snr_db = 200, 10.0
    out_path = tmp_path / "records.jsonl"
    summary = running.run_loopback(bundle, snr_db=snr_db, channel="awgn", num_images=n,
                                            out_path=str(out_path), timeout_s=300)
    assert summary["complete"], summary
    assert summary["count"] == n and summary["dropped_tx"] == 0 and summary["dropped_rx"] == 0
    assert summary["evm_db"] == pytest.approx(-snr_db, abs=0.3)        # AWGN: the error vector is the noise
    assert summary["evm_percent"] == pytest.approx(100 * 10 ** (-snr_db / 20), rel=0.05)

    reference = _semcom_eval(bundle, n, snr_db)
    acc_direct = reference["accuracy"]
    spread = 3 * reference["psnr_std"] / math.sqrt(n) + 0.1
    assert abs(summary["psnr"] - reference["psnr"]) < spread, (summary["psnr"], reference["psnr"], spread)

    acc = summary["accuracy"]
    assert 0.0 <= acc <= 1.0
    p = min(max(acc_direct, 0.05), 0.95)
    assert abs(acc - acc_direct) < 4 * math.sqrt(p * (1 - p) / n) + 0.02, (acc, acc_direct)
    assert acc > 0.5, "a trained bundle should classify most reconstructions correctly at 10 dB"

    records = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert len(records) == 1
    rec = records[0]
    assert rec["source"] == "flowgraph" and rec["samples"] == n and rec["snr_db"] == snr_db
    assert rec["channel"] == "awgn" and np.isclose(rec["psnr"], summary["psnr"])
    assert np.isclose(rec["evm_db"], summary["evm_db"])
    assert rec["method"] == json.loads((Path(bundle) / "card.json").read_text())["method"]


@needs_grcc
def test_semcom_grc_compiles_without_a_block_path_and_refuses_a_script_that_lost_its_blocks(tmp_path, monkeypatch):
    import subprocess
    import sys

    from gnuradio.semcom.running import grc as grc_module

    env = {k: v for k, v in __import__("os").environ.items() if k != "GRC_BLOCKS_PATH"}
    done = subprocess.run([sys.executable, "-m", "semcom_core.cli.main", "grc", str(REPO / "flowgraphs/semantic_loopback.grc"),
                           "--out", str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "from gnuradio import semcom" in (tmp_path / "semantic_loopback.py").read_text()
    # where the block YAML cannot be found, grcc still exits 0: compile_grc refuses its script
    monkeypatch.setenv("GRC_BLOCKS_PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(grc_module, "blocks_dirs", lambda: [])
    with pytest.raises(RuntimeError, match="without its semcom blocks"):
        grc_module.compile_grc(REPO / "flowgraphs/semantic_loopback.grc", tmp_path / "lost")
    assert not (tmp_path / "lost" / "semantic_loopback.py").exists()


@pytest.mark.parametrize("grc", FLOWGRAPHS, ids=[p.stem for p in FLOWGRAPHS])
def test_a_flowgraph_that_measures_writes_its_record_by_default(grc):
    import yaml

    params = {b["name"]: b["parameters"] for b in yaml.safe_load(grc.read_text())["blocks"] if b["id"] == "parameter"}
    if "out_path" in params:
        assert params["out_path"]["value"] == f"{grc.stem}.jsonl"


@needs_grcc
@pytest.mark.slow
def test_bench_flowgraph_prints_both_rates_their_ratio_and_what_the_precision_costs(bundle, capsys):
    from semcom_core.cli.main import main

    main(["bench", "flowgraph", "--bundle", str(bundle), "--images", "192", "--repeats", "1", "--precision", "bf16"])
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{"): out.rindex("}") + 1])
    assert result["flowgraph_complete"] and result["num_images"] == 192 and result["precision"] == "bf16"
    assert result["images_per_s_flowgraph"] > 0 and result["images_per_s_bare"] > 0
    assert result["ratio"] == pytest.approx(result["images_per_s_flowgraph"] / result["images_per_s_bare"])
    assert abs(result["psnr_bare"] - result["psnr_fp32"]) < 0.05          # bf16 costs no quality
    assert abs(result["psnr_flowgraph"] - result["psnr_bare"]) < 1.0       # the same chain, other noise draws
    assert "images/s through the loopback flowgraph" in out and f"ratio {result['ratio']:.2f}" in out
