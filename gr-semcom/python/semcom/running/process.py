#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Generated flowgraph scripts as processes (two-process links, radios): start, stop, read their records."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for ZMQ addresses in tests)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def script_options(**values) -> list[str]:
    """Command-line options of a GRC-generated script: ``snr_db=20`` -> ``["--snr-db", "20"]``
    (GRC turns parameter ids into ``--id-with-dashes``). None values are left out."""
    out = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = int(value)
        out += [f"--{key.replace('_', '-')}", str(value)]
    return out


def start_script(py_path, options=(), log_path=None, python=None, env=None, cwd=None) -> subprocess.Popen:
    """Start a generated flowgraph script (``compile_grc``'s output) with ``python`` (default: this
    interpreter, which has torch and semcom_core) and ``options``; stdout and stderr go to
    ``log_path`` (default: a pipe). It runs in ``cwd`` (default: the log's folder, so that the files a
    script writes by default, such as its records, land beside its log). Stop it with :func:`stop_script`."""
    cmd = [python or sys.executable, "-u", str(py_path), *[str(o) for o in options]]
    cwd = cwd if cwd is not None else (Path(log_path).resolve().parent if log_path else None)
    out = open(log_path, "w") if log_path else subprocess.PIPE   # noqa: SIM115 - closed by the process's end
    try:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, text=True, cwd=cwd)
    finally:
        if log_path:
            out.close()


def stop_script(proc: subprocess.Popen, timeout_s: float = 20.0) -> int:
    """Stop a script from :func:`start_script`: SIGINT (the generated scripts stop the flowgraph,
    write their records and print their report), then SIGTERM and SIGKILL if it does not end within
    ``timeout_s``. Returns its exit status."""
    import signal

    if proc.poll() is not None:
        return proc.returncode
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(timeout=float(timeout_s) if sig == signal.SIGINT else 5.0)
        except subprocess.TimeoutExpired:
            continue
    proc.kill()
    return proc.wait(timeout=10)


def read_records(path) -> list[dict]:
    """Result records (JSON lines) in ``path``; [] when it does not exist yet."""
    import json

    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def wait_for_record(path, timeout_s: float = 120.0, procs=(), poll_s: float = 0.2):
    """Wait until ``path`` holds a result record (a metrics sink writes one when it has every image,
    or when its flowgraph stops); returns the newest record, or None at the deadline or when one of
    ``procs`` (the receiver's process) has ended without writing one."""
    deadline = time.monotonic() + float(timeout_s)
    while True:
        records = read_records(path)
        if records:
            return records[-1]
        if time.monotonic() >= deadline or any(p.poll() is not None for p in procs):
            records = read_records(path)
            return records[-1] if records else None
        time.sleep(poll_s)
