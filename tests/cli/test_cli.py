"""The `semcom` command line: eval writes records and a table, plot writes a PNG, errors are clear."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from semcom_core.cli.main import main
from semcom_core.runs.config import ConfigError, load_config, parse_ratio
from semcom_core.records import read_records

FIELDS = {"method", "dataset", "channel", "snr_db", "ratio", "psnr", "ssim", "accuracy", "samples", "seed"}


def test_eval_and_plot(untrained_bundle_path, tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    main(["eval", "--bundle", str(untrained_bundle_path), "--channel", "rayleigh", "--snr", "0", "10",
          "--samples", "64", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "psnr" in printed and "rayleigh" in printed
    records = read_records(out)
    assert [r["snr_db"] for r in records] == [0.0, 10.0]
    assert FIELDS <= set(records[0])
    assert records[0]["samples"] == 64 and records[0]["channel"] == "rayleigh"
    main(["plot", str(out)])
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args,message", [
    (["eval", "--channel", "awgm", "--samples", "8"], "unknown channel"),
    (["eval", "--bundle", "/nonexistent/bundle"], "does not exist"),
    (["train", "--config", "/nonexistent.yaml", "--out", "x"], "does not exist"),
])
def test_errors_are_clear(args, message, untrained_bundle_path):
    if "--bundle" not in args:
        args = args[:1] + ["--bundle", str(untrained_bundle_path)] + args[1:] if args[0] == "eval" else args
    result = subprocess.run([sys.executable, "-m", "semcom_core.cli.main", *args], capture_output=True, text=True)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_config_loading(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method: deepjscc\nratio: 1/6\nmodel: {width: 16}\n")
    cfg = load_config(path, {"trainer": {"max_epochs": 2}})
    assert abs(cfg["ratio"] - 1 / 6) < 1e-12 and cfg["model"]["width"] == 16 and cfg["trainer"]["max_epochs"] == 2
    path.write_text("modle: {width: 16}\n")
    with pytest.raises(ConfigError, match="unknown config key 'modle'"):
        load_config(path)
    with pytest.raises(ConfigError):
        parse_ratio("one twelfth")
    assert parse_ratio("1/2.5") == pytest.approx(0.4)


def test_shipped_configs_load():
    from pathlib import Path

    for path in Path(__file__).resolve().parents[2].glob("configs/*.yaml"):
        cfg = load_config(path)
        assert cfg["method"] == "deepjscc" and 0 < cfg["ratio"] <= 1


def test_info_prints_card(untrained_bundle_path, capsys):
    main(["info", "--bundle", str(untrained_bundle_path)])
    assert json.loads(capsys.readouterr().out)["k"] == 65


def test_gnuradio_commands_come_from_the_module_or_say_why_not(monkeypatch):
    from semcom_core.cli.main import build_parser

    parser = build_parser()
    ofdm = parser.parse_args(["bench", "ofdm", "--snr-db", "3"])
    ldpc = parser.parse_args(["bench", "ldpc", "--ebn0-db", "2.5"])
    assert ofdm.snr_db == 3.0 and ldpc.ebn0_db == 2.5                          # each benchmark, its own flags
    assert parser.parse_args(["bench", "ofdm", "--snr", "7"]).snr_db == 7.0     # the earlier spelling still works
    assert parser.parse_args(["bench", "ofdm-gap", "--snrs", "0,5", "10"]).snr_db == [[0.0, 5.0], [10.0]]
    monkeypatch.setitem(sys.modules, "gnuradio.semcom.cli", None)              # as without GNU Radio
    args = build_parser().parse_args(["bench", "ofdm"])
    with pytest.raises(SystemExit, match="needs GNU Radio and the gr-semcom module"):
        args.func(args)
