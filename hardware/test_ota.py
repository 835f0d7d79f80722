"""hardware/ota.py and the radio profiles; the over-the-air loopback when a USRP is attached.

Without a radio the loopback test skips and says why; the profile and launcher checks run anywhere.
With one, connect TX/RX to RX2 through 30 to 60 dB of attenuation first (hardware/README.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import ota  # noqa: E402

PROFILES = ota.profile_names()
REQUIRED = ("name", "device_args", "samp_rate", "center_freq", "amplitude", "clock_source", "time_source",
            "tx_antenna", "rx_antenna", "gains", "notes")
# UHD product / type of a found radio -> profile
PROFILE_OF = {"B200": "b200", "B200mini": "b200", "B210": "b210", "B205mini": "b200", "N210": "n210",
              "N200": "n210", "X310": "x310", "X300": "x310"}
TYPE_PROFILE = {"b200": "b200", "usrp2": "n210", "x300": "x310"}


def test_there_are_profiles():
    assert {"b200", "b210", "n210", "x310"} <= set(PROFILES)


@pytest.mark.parametrize("name", PROFILES)
def test_profile_is_complete_and_plausible(name):
    p = ota.load_profile(name)
    missing = [k for k in REQUIRED if k not in p]
    assert not missing, f"{name}: missing {missing}"
    assert ota.parse_args_string(p["device_args"]), p["device_args"]
    assert 200e3 <= float(p["samp_rate"]) <= 10e6
    assert 50e6 <= float(p["center_freq"]) <= 6e9
    assert 0.05 <= float(p["amplitude"]) <= 0.5
    mcr = p.get("master_clock_rate")
    if mcr:
        ratio = float(mcr) / float(p["samp_rate"])
        assert abs(ratio - round(ratio)) < 1e-9, f"{name}: master clock {mcr} / sample rate is not an integer"
    for role in ("loopback", "air"):
        g = p["gains"][role]
        assert 0 <= float(g["tx_gain"]) <= 90 and 0 <= float(g["rx_gain"]) <= 76, (role, g)
        assert 0.0 < float(p.get("threshold", 0.6)) < 1.0


@pytest.mark.parametrize("flowgraph", sorted(ota.FLOWGRAPHS))
@pytest.mark.parametrize("name", PROFILES)
def test_launcher_options_are_flowgraph_parameters(name, flowgraph, capsys):
    """Every value ota.py passes is a parameter of the flowgraph, and every radio parameter gets one."""
    assert ota.main(["--profile", name, "--flowgraph", flowgraph, "--dry-run"]) == 0
    grc = ota.FLOWGRAPHS[flowgraph]
    params = set(ota.grc_parameters(grc))
    args = argparse_namespace(profile=name)
    values = ota.script_values(grc, ota.settings_for(ota.load_profile(name), flowgraph, args))
    per_device = {"rgb_device_args", "depth_device_args", "rgb_center_freq", "depth_center_freq"}
    own = per_device if per_device <= params else {"device_args", "center_freq"}     # a radio per device, or one
    radio = own | {"samp_rate", "clock_source"} | (params & {
        "tx_gain", "rx_gain", "antenna", "tx_antenna", "rx_antenna", "amplitude", "threshold", "out_path",
        "num_instances", "num_samples", "tasks", "device"})
    assert radio <= set(values) <= params
    if own == per_device:   # two frequency slots
        assert values["rgb_center_freq"] != values["depth_center_freq"]
    out = capsys.readouterr().out
    assert f"flowgraph {grc.name}:" in out and "-device-args" in out


def argparse_namespace(**over):
    import argparse

    d = dict(device_args=None, master_clock_rate=None, bundle=ota.DEFAULT_BUNDLE, num_images=8, snr=None, tasks="all",
             device="rgb", rgb_device_args=None, depth_device_args=None, rgb_center_freq=None, depth_center_freq=None,
             samp_rate=None, center_freq=None, tx_gain=None, rx_gain=None, clock_source=None, amplitude=None,
             threshold=None, idle_stop=5.0, out="results/ota.jsonl")
    d.update(over)
    return argparse.Namespace(**d)


@pytest.mark.slow
def test_launcher_runs_the_simulated_loopback(tmp_path):
    """ota.py end to end on the loopback's ZMQ twin: compile, run, stop, summary, record."""
    records = tmp_path / "sim.jsonl"
    proc = subprocess.run([sys.executable, str(HERE / "ota.py"), "--simulate", "--num-images", "8",
                           "--out", str(records), "--timeout", "90"], capture_output=True, text=True, timeout=180,
                          cwd=REPO)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "metrics: 8 of 8 images" in out and "0 header failures" in out, out[-4000:]
    (record,) = ota.runner().read_records(records)
    assert record["samples"] == 8 and record["channel"] == "ofdm-zmq-b200-loopback"


def find_any_radio() -> list[dict]:
    try:
        from gnuradio import uhd  # noqa: F401
    except ImportError as err:
        pytest.skip(f"GNU Radio's UHD module is not importable ({err})")
    return ota.find_radio("")


@pytest.mark.parametrize("flowgraph", ["loopback", "mfmsc-rx", "rgbd-server"])
def test_no_radio_gives_a_clear_message_and_status_2(flowgraph):
    if find_any_radio():
        pytest.skip("a USRP is attached: the no-radio path cannot be checked here")
    proc = subprocess.run([sys.executable, str(HERE / "ota.py"), "--profile", "b200", "--num-images", "4",
                           "--flowgraph", flowgraph], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no USRP found" in proc.stderr and "uhd_find_devices" in proc.stderr


@pytest.mark.hardware
@pytest.mark.slow
def test_over_the_air_loopback(tmp_path):
    radios = find_any_radio()
    if not radios:
        pytest.skip("no USRP found (uhd.uhd_python.find returned nothing): attach one with TX/RX cabled to RX2 "
                    "through 30-60 dB of attenuation to run the over-the-air loopback (hardware/README.md)")
    radio = radios[0]
    profile = PROFILE_OF.get(radio.get("product", "")) or TYPE_PROFILE.get(radio.get("type", ""))
    if profile is None:
        pytest.skip(f"no profile for the radio found ({radio}); add one to hardware/profiles/")
    ident = {k: v for k, v in radio.items() if k in ("type", "addr", "serial")}
    n = 16
    records = tmp_path / "ota.jsonl"
    proc = subprocess.run([sys.executable, str(HERE / "ota.py"), "--profile", profile, "--flowgraph", "loopback",
                           "--num-images", str(n), "--device-args", ota.join_args(ident), "--out", str(records),
                           "--timeout", "120"], capture_output=True, text=True, timeout=300, cwd=REPO)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert f"metrics: {n} of {n} images" in out, out[-4000:]
    from ota import runner

    fr = runner()
    (record,) = fr.read_records(records)
    assert record["samples"] == n
    # the radio's link against semcom_core's AWGN channel at the SNR the OFDM receiver measured
    ref = fr.mijscc_reference(str(REPO / ota.DEFAULT_BUNDLE), n, record["snr_db"],
                              mask_snr_db=ota.load_profile(profile).get("mask_snr_db", 20))
    assert record["psnr"] > ref["psnr"] - 1.0, (record, ref)


def test_a_receiver_is_stopped_once_its_records_are_in(tmp_path):
    """wait_for_records, as the MFMSC and RGB-D receivers use it: a process that writes a record after a
    while and then idles (as those flowgraphs do) is waited for until the record is there, not longer."""
    import json
    import time

    records = tmp_path / "r.jsonl"
    records.write_text(json.dumps({"task": "old"}) + "\n")          # an earlier run's record does not count
    writer = (f"import json, time; time.sleep(1.0); open({str(records)!r}, 'a').write(json.dumps({{'task': 'vqa'}})"
              " + '\\n'); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", writer])
    fr = ota.runner()
    try:
        t0 = time.monotonic()
        ota.wait_for_records(fr, proc, records, 1, timeout=30.0)
        waited = time.monotonic() - t0
        assert proc.poll() is None and [r["task"] for r in fr.read_records(records)] == ["old", "vqa"]
        assert 0.9 <= waited < 10.0
        with pytest.raises(subprocess.TimeoutExpired):     # nothing more comes: the timeout ends the wait
            ota.wait_for_records(fr, proc, records, 2, timeout=1.0)
    finally:
        proc.kill()
        proc.wait()
