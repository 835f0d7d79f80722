#!/usr/bin/env python3
#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Run the semantic OFDM link over USRPs with the settings of a radio profile.

    # one radio, TX/RX -> 30..60 dB attenuator -> RX2 (see hardware/README.md)
    .venv/bin/python hardware/ota.py --profile b200 --flowgraph loopback --num-images 32

    # two radios with antennas: start the receiver first, then the transmitter
    .venv/bin/python hardware/ota.py --profile b210 --flowgraph rx --num-images 100 --out results/ota.jsonl
    .venv/bin/python hardware/ota.py --profile b200 --flowgraph tx --num-images 100

    # MFMSC's tasks, and the RGB-D system (two devices, a server with a radio per device)
    .venv/bin/python hardware/ota.py --profile b210 --flowgraph mfmsc-rx --num-items 50
    .venv/bin/python hardware/ota.py --profile b200 --flowgraph mfmsc-tx --num-items 50 --timeout 120
    .venv/bin/python hardware/ota.py --flowgraph rgbd-server --rgb-device-args serial=A --depth-device-args serial=B
    .venv/bin/python hardware/ota.py --flowgraph rgbd-device --device rgb --device-args serial=C --timeout 120

The launcher loads ``hardware/profiles/<profile>.yaml`` (or a YAML file given by path), looks for the
radio with ``uhd.uhd_python.find`` and stops with a clear message (exit status 2) when there is none,
compiles ``hardware/usrp_<flowgraph>.grc`` with grcc into a temporary folder, runs the generated
script with this Python and the profile's values as command-line options, stops it when it is done
(the script stops itself once the metrics sink has every image, or ``--idle-stop`` seconds after the
last activity; the launcher interrupts it at ``--timeout``), and prints what the receiver decoded:
images, PSNR, SSIM, accuracy, the SNR the OFDM receiver estimated, lost headers, underflows and
overflows, and the result record.

Exit status: 0 every image decoded (rx, loopback) or sent (tx), or the MFMSC / RGB-D receiver's records
written; 1 fewer; 2 no radio found; 3 the flowgraph could not be compiled or started. The MFMSC and RGB-D
transmitters have no end of their own: they run until --timeout or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROFILES = HERE / "profiles"
FLOWGRAPHS = {"loopback": HERE / "usrp_loopback.grc", "tx": HERE / "usrp_tx.grc", "rx": HERE / "usrp_rx.grc",
              "mfmsc-tx": HERE / "usrp_mfmsc_tx.grc", "mfmsc-rx": HERE / "usrp_mfmsc_rx.grc",
              "rgbd-device": HERE / "usrp_rgbd_device.grc", "rgbd-server": HERE / "usrp_rgbd_server.grc"}
#: The flowgraphs of the other systems: their model bundle, and whether they transmit (and then run until
#: --timeout or Ctrl-C) or receive (and stop once their result records are written).
SYSTEMS = {"mfmsc-tx": ("bundles/mfmsc-embedded", "tx"), "mfmsc-rx": ("bundles/mfmsc-embedded", "rx"),
           "rgbd-device": ("bundles/rgbd-proposed-snr10", "tx"), "rgbd-server": ("bundles/rgbd-proposed-snr10", "rx")}
DEPTH_OFFSET_HZ = 10e6      # the RGB-D depth device's default frequency: 10 MHz above the RGB device's
SIMULATED_LOOPBACK = REPO / "flowgraphs" / "ofdm_loopback_zmq.grc"   # the loopback's twin: ZMQ instead of the radio
DEFAULT_BUNDLE = "bundles/a-mijscc-fmnist-8bit"
# device arguments that say which radio to use (the rest, e.g. master_clock_rate, configure it)
_FIND_KEYS = ("type", "addr", "serial", "name", "product", "resource", "mgmt_addr", "second_addr")


def runner():
    """gnuradio.semcom.running (installed, else the source tree's)."""
    try:
        from gnuradio.semcom import running
    except ImportError:
        sys.path.insert(0, str(REPO / "gr-semcom" / "python"))
        from semcom import running
    return running


# ---------------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------------

def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILES.glob("*.yaml"))


def load_profile(name_or_path: str) -> dict:
    """A profile by name (hardware/profiles/<name>.yaml) or by path."""
    import yaml

    path = Path(name_or_path)
    if not path.is_file():
        path = PROFILES / f"{name_or_path}.yaml"
    if not path.is_file():
        raise SystemExit(f"ota.py: no profile {name_or_path!r}; known: {', '.join(profile_names())} "
                         f"(or give the path of a YAML file)")
    profile = yaml.safe_load(path.read_text()) or {}
    if not isinstance(profile, dict) or "device_args" not in profile:
        raise SystemExit(f"ota.py: {path} is not a radio profile (a mapping with device_args, samp_rate, ...)")
    profile["_path"] = str(path)
    return profile


def parse_args_string(args: str) -> dict:
    """'type=b200,serial=X' -> {'type': 'b200', 'serial': 'X'}."""
    out = {}
    for item in str(args or "").split(","):
        if "=" in item:
            key, value = item.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def join_args(d: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in d.items())


def settings_for(profile: dict, flowgraph: str, args) -> dict:
    """The flowgraph's parameter values: the profile's, the gains of its role, the command line's."""
    role = "loopback" if flowgraph == "loopback" else "air"
    gains = (profile.get("gains") or {}).get(role) or {}
    dev = parse_args_string(args.device_args if args.device_args is not None else profile["device_args"])
    mcr = args.master_clock_rate if args.master_clock_rate is not None else profile.get("master_clock_rate")
    if mcr and "master_clock_rate" not in dev:
        dev["master_clock_rate"] = f"{float(mcr):.0f}"
    s = {
        "bundle": args.bundle,
        "num_images": args.num_images,
        "mask_snr_db": args.snr if args.snr is not None else profile.get("mask_snr_db", 20),
        "device_args": join_args(dev),
        "samp_rate": args.samp_rate if args.samp_rate is not None else profile["samp_rate"],
        "center_freq": args.center_freq if args.center_freq is not None else profile["center_freq"],
        "tx_gain": args.tx_gain if args.tx_gain is not None else gains.get("tx_gain", profile.get("tx_gain")),
        "rx_gain": args.rx_gain if args.rx_gain is not None else gains.get("rx_gain", profile.get("rx_gain")),
        "clock_source": args.clock_source or profile.get("clock_source", "internal"),
        "amplitude": args.amplitude if args.amplitude is not None else profile.get("amplitude", 0.15),
        "threshold": args.threshold if args.threshold is not None else profile.get("threshold", 0.45),
        "tx_antenna": profile.get("tx_antenna", "TX/RX"),
        "rx_antenna": profile.get("rx_antenna", "RX2"),
        "channel_label": f"ofdm-usrp-{profile.get('name', Path(profile['_path']).stem)}-{flowgraph}",
        "idle_stop": args.idle_stop,
    }
    role = SYSTEMS[flowgraph][1] if flowgraph in SYSTEMS else flowgraph
    if role == "tx":
        s["antenna"] = s["tx_antenna"]
    elif role == "rx":
        s["antenna"] = s["rx_antenna"]
    if role != "tx":
        s["out_path"] = str(Path(args.out).resolve())
    # the multi-task and multi-device systems: how many items, which tasks or device, the server's two radios
    freq = float(s["center_freq"])
    s.update(num_instances=args.num_images, num_samples=args.num_images, tasks=getattr(args, "tasks", "all"),
             device=getattr(args, "device", "rgb"),
             rgb_device_args=getattr(args, "rgb_device_args", None) or s["device_args"],
             depth_device_args=getattr(args, "depth_device_args", None) or s["device_args"],
             rgb_center_freq=getattr(args, "rgb_center_freq", None) or freq,
             depth_center_freq=getattr(args, "depth_center_freq", None) or freq + DEPTH_OFFSET_HZ)
    return s


def radio_args(flowgraph: str, settings: dict) -> list[str]:
    """The device arguments of every radio the flowgraph opens (the RGB-D server: one per device)."""
    if flowgraph == "rgbd-server":
        return [settings["rgb_device_args"], settings["depth_device_args"]]
    return [settings["device_args"]]


def grc_parameters(grc_path) -> list[str]:
    """Ids of the parameter blocks of a .grc file (the generated script's command-line options)."""
    import yaml

    doc = yaml.safe_load(Path(grc_path).read_text())
    return [b["name"] for b in doc.get("blocks", []) if b.get("id") == "parameter"]


def script_values(grc_path, settings: dict) -> dict:
    """The settings that are parameters of this flowgraph, in the .grc's order."""
    return {name: settings[name] for name in grc_parameters(grc_path) if settings.get(name) is not None}


# ---------------------------------------------------------------------------------------------------
# The radio
# ---------------------------------------------------------------------------------------------------

def find_radio(device_args: str) -> list[dict]:
    """Radios that match the identifying keys of ``device_args`` (``uhd.uhd_python.find``; note
    ``uhd.find_devices()`` is broken in GNU Radio 3.10.5)."""
    from gnuradio import uhd

    hint = {k: v for k, v in parse_args_string(device_args).items() if k in _FIND_KEYS}
    found = uhd.uhd_python.find(uhd.device_addr(join_args(hint)))
    return [parse_args_string(addr.to_string()) for addr in found]


def no_radio_message(device_args: str, profile: dict) -> str:
    dev = parse_args_string(device_args)
    hints = ["  - is it powered and connected? `uhd_find_devices` (Debian package uhd-host) lists what UHD sees;"]
    if "addr" in dev:
        hints += [f"  - network radio: `ping {dev['addr']}`; the host NIC needs an address in the same /24 "
                  f"subnet (e.g. {dev['addr'].rsplit('.', 1)[0]}.1) and, for 10 GbE, MTU 9000;",
                  "  - a firewall must let UDP from the radio through;"]
    else:
        hints += ["  - USB radio: `lsusb` should list 2500:0020 (Ettus B200/B210); use a USB 3 port and cable;",
                  "  - permissions: install UHD's udev rules (uhd-host ships them) and replug, or run as root;",
                  "  - firmware/FPGA images: `uhd_images_downloader` when uhd_find_devices complains about them;"]
    hints.append("  - or give other device arguments with --device-args (e.g. serial=...)")
    return (f"ota.py: no USRP found for profile {profile.get('name', profile['_path'])!r} "
            f"(device args '{device_args}'; uhd.uhd_python.find returned nothing).\n" + "\n".join(hints))


# ---------------------------------------------------------------------------------------------------
# Running the script
# ---------------------------------------------------------------------------------------------------

class OutputPump(threading.Thread):
    """Copies a process's output to our stdout (with --verbose) and keeps it."""

    def __init__(self, stream, echo: bool):
        super().__init__(daemon=True)
        self.stream, self.echo = stream, echo
        self.chunks: list[str] = []

    def run(self):
        for line in iter(self.stream.readline, ""):
            self.chunks.append(line)
            if self.echo or line.startswith("semcom:") or "ERROR" in line or "Error" in line:
                sys.stdout.write(line)
                sys.stdout.flush()

    def text(self) -> str:
        return "".join(self.chunks)


def stream_events(text: str) -> dict:
    """UHD's one-letter stream messages: U underflow (TX), O overflow (RX), L late, S sequence error."""
    counts = {"underflows": 0, "overflows": 0, "late": 0, "seq_errors": 0}
    lines = [line for line in text.splitlines() if not line.startswith(("[", "semcom", "SEMCOM"))]
    for run in re.findall(r"(?<![A-Za-z])[UOLSD]+(?![A-Za-z])", "\n".join(lines)):
        counts["underflows"] += run.count("U")
        counts["overflows"] += run.count("O") + run.count("D")
        counts["late"] += run.count("L")
        counts["seq_errors"] += run.count("S")
    return counts


def fmt(x, spec=".2f") -> str:
    return format(x, spec) if isinstance(x, (int, float)) and math.isfinite(x) else "-"


def print_summary(flowgraph: str, settings: dict, report: dict | None, records: list, events: dict,
                  elapsed: float) -> int:
    n = int(settings["num_images"])
    print(f"\n== {flowgraph} finished after {elapsed:.1f} s ==")
    if report is None:
        print("no report from the flowgraph (it was killed or failed to start; see the output above)")
        return 1
    if "tx" in report:
        t, o = report["tx"], report.get("ofdm_tx", {})
        print(f"transmitter: {t['sent']} of {n} images sent as {o.get('bursts', '-')} OFDM bursts, "
              f"{fmt(t.get('payload_symbols_per_image'), '.1f')} payload symbols per image"
              + (f", dropped {t['drop_reasons']}" if t.get("dropped") else ""))
    if "ofdm_rx" in report:
        r = report["ofdm_rx"]
        reasons = f" {r['drop_reasons']}" if r.get("drop_reasons") else ""
        print(f"OFDM receiver: {r['frames']} frames, {r['header_failures']} header failures{reasons}; "
              f"estimated SNR {fmt(r['snr_db_mean'], '.1f')} dB "
              f"(min {fmt(r['snr_db_min'], '.1f')}, max {fmt(r['snr_db_max'], '.1f')})")
    if "rx" in report:
        r = report["rx"]
        print(f"MIJSCC receiver: {r['decoded']} images decoded"
              + (f", dropped {r['drop_reasons']}" if r.get("dropped") else ""))
    m = report.get("metrics")
    if m:
        print(f"metrics: {m['count']} of {n} images, PSNR {fmt(m['psnr'])} dB, SSIM {fmt(m['ssim'], '.3f')}, "
              f"accuracy {fmt(m['accuracy'], '.3f')}")
    print(f"stream: {events['underflows']} underflows (U), {events['overflows']} overflows (O), "
          f"{events['late']} late (L), {events['seq_errors']} sequence errors (S)")
    if records:
        print(f"record ({settings.get('out_path')}): {json.dumps(records[-1])}")
    if flowgraph == "tx":
        return 0 if report.get("tx", {}).get("sent", 0) >= n else 1
    return 0 if m and m["count"] >= n else 1


def wait_for_records(fr, proc, out_path, before: int, timeout: float) -> None:
    """Until ``out_path`` holds records beyond the first ``before`` (the receiver is done), the script ends,
    or ``timeout`` seconds (then ``subprocess.TimeoutExpired``)."""
    import subprocess

    deadline = time.monotonic() + timeout
    while proc.poll() is None and len(fr.read_records(out_path)) <= before:
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        time.sleep(0.5)


def print_system_summary(flowgraph: str, records: list, events: dict, elapsed: float) -> int:
    """What an MFMSC or RGB-D flowgraph did: a transmitter ran; a receiver wrote its records (0) or not (1)."""
    print(f"\n== {flowgraph} finished after {elapsed:.1f} s ==")
    print(f"stream: {events['underflows']} underflows (U), {events['overflows']} overflows (O), "
          f"{events['late']} late (L), {events['seq_errors']} sequence errors (S)")
    if SYSTEMS[flowgraph][1] == "tx":
        return 0
    for r in records:
        metric = r.get("metric", "accuracy")
        print(f"record: {r.get('task', flowgraph)} {metric} {fmt(r.get(metric), '.4f')} over {r.get('samples')} "
              f"({r.get('channel')})")
    if not records:
        print("no record: the receiver did not get every item before the timeout")
    return 0 if records else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Profiles: " + ", ".join(profile_names()) + ". See hardware/README.md.")
    p.add_argument("--profile", default="b200", help="radio profile name or YAML path (default b200)")
    p.add_argument("--flowgraph", choices=sorted(FLOWGRAPHS), default="loopback",
                   help="loopback (one radio, cable), tx or rx (two radios, antennas); mfmsc-tx / mfmsc-rx (MFMSC's "
                        "tasks); rgbd-device (once per device) / rgbd-server (a radio per device)")
    p.add_argument("--num-images", "--num-items", type=int, default=32,
                   help="test images (MFMSC: instances per task; RGB-D: samples) to send / expect (default 32)")
    p.add_argument("--bundle", default=None, help=f"model bundle (default {DEFAULT_BUNDLE}; "
                   "bundles/mfmsc-embedded for mfmsc-*, bundles/rgbd-proposed-snr10 for rgbd-*)")
    p.add_argument("--tasks", default="all", help="mfmsc-*: all, or task names separated by commas")
    p.add_argument("--device", default="rgb", choices=["rgb", "depth"], help="rgbd-device: which device this is")
    p.add_argument("--rgb-device-args", help="rgbd-server: the radio that hears the RGB device (default --device-args)")
    p.add_argument("--depth-device-args", help="rgbd-server: the radio that hears the depth device")
    p.add_argument("--rgb-center-freq", type=float, help="rgbd-server: the RGB device's frequency (default --center-freq)")
    p.add_argument("--depth-center-freq", type=float,
                   help=f"rgbd-server: the depth device's frequency (default {DEPTH_OFFSET_HZ / 1e6:g} MHz above)")
    p.add_argument("--snr", type=float, help="SNR (dB) the A-MIJSCC mask assumes (default: the profile's mask_snr_db)")
    p.add_argument("--device-args", help="UHD device arguments (default: the profile's)")
    p.add_argument("--master-clock-rate", type=float, help="master clock rate (Hz; default: the profile's)")
    p.add_argument("--samp-rate", type=float, help="sample rate (Hz)")
    p.add_argument("--center-freq", type=float, help="centre frequency (Hz)")
    p.add_argument("--tx-gain", type=float, help="TX gain (dB)")
    p.add_argument("--rx-gain", type=float, help="RX gain (dB)")
    p.add_argument("--amplitude", type=float, help="RMS amplitude of the OFDM bursts (default: the profile's, 0.15)")
    p.add_argument("--threshold", type=float, help="sync threshold of the OFDM receiver")
    p.add_argument("--clock-source", help="internal, external or gpsdo")
    p.add_argument("--out", default="results/ota.jsonl", help="records file the receiver appends to")
    p.add_argument("--idle-stop", type=float, default=5.0,
                   help="the script stops this many seconds after the last activity once all is sent (default 5)")
    p.add_argument("--timeout", type=float, default=0.0,
                   help="interrupt the script after this many seconds (default 60 + 0.5 s per image)")
    p.add_argument("--dry-run", action="store_true", help="print the command without looking for a radio")
    p.add_argument("--simulate", action="store_true",
                   help="rehearse without a radio: run the loopback's simulated twin (ZMQ on 127.0.0.1)")
    p.add_argument("--verbose", "-v", action="store_true", help="show all of the script's output")
    args = p.parse_args(argv)

    profile = load_profile(args.profile)
    args.bundle = args.bundle or SYSTEMS.get(args.flowgraph, (DEFAULT_BUNDLE,))[0]
    bundle = Path(args.bundle)
    if not bundle.is_absolute() and not bundle.exists() and (REPO / bundle).exists():
        args.bundle = str(REPO / bundle)
    if args.simulate and args.flowgraph != "loopback":
        p.error("--simulate runs the loopback only")
    settings = settings_for(profile, args.flowgraph, args)
    fr = runner()
    grc = FLOWGRAPHS[args.flowgraph]
    if args.simulate:
        grc = SIMULATED_LOOPBACK
        settings["address"] = f"tcp://127.0.0.1:{fr.free_tcp_port()}"
        settings["channel_label"] = settings["channel_label"].replace("ofdm-usrp", "ofdm-zmq")
    values = script_values(grc, settings)
    options = fr.script_options(**values)
    print(f"profile {profile.get('name', args.profile)} ({profile['_path']}): {profile.get('description', '')}")
    print(f"flowgraph {grc.name}: " + " ".join(options))
    if args.dry_run:
        return 0

    if args.simulate:
        print("radio: none (--simulate: ZMQ loopback on 127.0.0.1)")
    else:
        radios = []
        for device_args in radio_args(args.flowgraph, settings):
            try:
                found = find_radio(device_args)
            except ImportError as err:
                print(f"ota.py: GNU Radio's UHD support is not importable ({err}); install gnuradio / "
                      f"python3-uhd and run with the venv's Python", file=sys.stderr)
                return 2
            if not found:
                print(no_radio_message(device_args, profile), file=sys.stderr)
                return 2
            if len(found) > 1:
                print(f"ota.py: several radios match '{device_args}'; UHD takes the first. Add serial=... to "
                      "the device arguments to choose.")
            radios += found[:1]
        print("radio: " + "; ".join(join_args(r) for r in radios))

    out_path = settings.get("out_path")
    if out_path:
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    before = len(fr.read_records(out_path)) if out_path else 0
    timeout = args.timeout or 60.0 + 0.5 * args.num_images
    with tempfile.TemporaryDirectory(prefix="semcom_ota_") as tmp:
        try:
            script = fr.compile_grc(grc, tmp)
        except RuntimeError as err:
            print(f"ota.py: {err}", file=sys.stderr)
            return 3
        role = SYSTEMS.get(args.flowgraph, ("", ""))[1]
        print(f"running {script.name} (" + ("runs until --timeout" if role == "tx" else "stops when done")
              + f"; at most {timeout:.0f} s; Ctrl-C stops it)")
        t0 = time.monotonic()
        proc = fr.start_script(script, options)
        pump = OutputPump(proc.stdout, args.verbose)
        pump.start()
        try:
            if role == "rx":      # these receivers write their records when done, then idle: stop them then
                wait_for_records(fr, proc, out_path, before, timeout)
            else:
                proc.wait(timeout=timeout)
        except KeyboardInterrupt:   # the script got the SIGINT too and is stopping: give it time
            print("\nota.py: interrupted; stopping the flowgraph")
            try:
                proc.wait(timeout=20.0)
            except Exception:  # noqa: BLE001 - still running: stop_script below ends it
                pass
        except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: interrupt it ourselves
            print(f"ota.py: {timeout:.0f} s passed; stopping the flowgraph")
        finally:
            code = fr.stop_script(proc, timeout_s=20.0)
            pump.join(timeout=5.0)
        elapsed = time.monotonic() - t0
    text = pump.text()
    reports = fr.parse_reports(text)
    if code not in (0, -2) and not reports:
        print(text[-4000:])
        print(f"ota.py: the flowgraph exited with status {code}", file=sys.stderr)
        return 3
    records = fr.read_records(out_path)[before:] if out_path else []
    if args.flowgraph in SYSTEMS:
        return print_system_summary(args.flowgraph, records, stream_events(text), elapsed)
    return print_summary(args.flowgraph, settings, reports[-1] if reports else None, records, stream_events(text),
                         elapsed)


if __name__ == "__main__":
    sys.exit(main())
