#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Finding and compiling the semcom ``.grc`` flowgraphs (``grcc``), and loading their top blocks."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

LOOPBACK_GRC = "semantic_loopback.grc"
SIDE_BY_SIDE_GRC = "semantic_vs_digital.grc"
ADAPTIVE_SNR_GRC = "adaptive_snr.grc"
OFDM_LOOPBACK_GRC = "ofdm_loopback.grc"
RGBD_GRC = "rgbd_devices.grc"
RGBD_OFDM_GRC = "rgbd_ofdm.grc"
MFMSC_GRC = "mfmsc_loopback.grc"
MFMSC_TASK_GRC = "mfmsc_task.grc"
MFMSC_OFDM_GRC = "mfmsc_ofdm.grc"
_BLOCK_PROBE = "semcom_jscc_tx.block.yml"
_PACKAGE = Path(__file__).resolve().parent.parent      # .../gnuradio/semcom (or gr-semcom/python/semcom)

_compiled: dict = {}
_compile_lock = threading.Lock()


def _prefixes() -> list[Path]:
    """Install prefixes to look under: the running Python's and the one this file is installed in."""
    out = [Path(sys.prefix)]
    parts = _PACKAGE.parts
    # <prefix>/lib/pythonX.Y/site-packages/gnuradio/semcom
    if len(parts) > 5 and parts[-2] == "gnuradio" and parts[-3] in ("site-packages", "dist-packages"):
        out.append(Path(*parts[:-5]))
    seen, unique = set(), []
    for p in out:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return unique


def blocks_dirs() -> list[str]:
    """Folders holding the semcom GRC block YAML (installed copy first, else the source tree's)."""
    found = []
    for prefix in _prefixes():
        d = prefix / "share" / "gnuradio" / "grc" / "blocks"
        if (d / _BLOCK_PROBE).is_file():
            found.append(str(d))
    if not found:
        src = _PACKAGE.parent.parent / "grc"   # gr-semcom/python/semcom -> gr-semcom/grc
        if (src / _BLOCK_PROBE).is_file():
            found.append(str(src))
    return found


def grc_blocks_path() -> str:
    """Value for GRC_BLOCKS_PATH: the caller's entries plus the semcom block folder."""
    entries = [p for p in os.environ.get("GRC_BLOCKS_PATH", "").split(os.pathsep) if p]
    have_semcom = any((Path(p) / _BLOCK_PROBE).is_file() for p in entries)
    if not have_semcom:
        entries += blocks_dirs()
    return os.pathsep.join(entries)


def flowgraph_dirs() -> list[Path]:
    """Folders that may hold the semcom .grc files, most specific first."""
    dirs = []
    if os.environ.get("SEMCOM_FLOWGRAPHS"):
        dirs.append(Path(os.environ["SEMCOM_FLOWGRAPHS"]))
    dirs.append(Path.cwd() / "flowgraphs")
    try:
        import semcom_core

        dirs.append(Path(semcom_core.__file__).resolve().parent.parent / "flowgraphs")
    except ImportError:
        pass
    dirs.append(_PACKAGE.parent.parent.parent / "flowgraphs")   # source tree: <repo>/gr-semcom/python/semcom
    for prefix in _prefixes():
        dirs.append(prefix / "share" / "gr-semcom" / "flowgraphs")
    return dirs


def find_flowgraph(name: str = LOOPBACK_GRC) -> Path:
    for d in flowgraph_dirs():
        if (d / name).is_file():
            return (d / name).resolve()
    raise FileNotFoundError(f"flowgraph {name} not found in: {', '.join(str(d) for d in flowgraph_dirs())} "
                            "(set SEMCOM_FLOWGRAPHS to the folder holding it)")


# ---------------------------------------------------------------------------
# Compiling and loading
# ---------------------------------------------------------------------------

def compile_grc(grc_path, out_dir) -> Path:
    """Compile a .grc file with ``grcc`` into ``out_dir``; returns the generated Python file.

    GRC_BLOCKS_PATH is extended with the semcom block folder, without which
    grcc cannot resolve the semcom blocks. Raises ``RuntimeError`` with grcc's
    output when it fails.
    """
    grc_path = Path(grc_path).resolve()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grcc = shutil.which("grcc")
    if grcc is None:
        raise RuntimeError("grcc not found on PATH (install GNU Radio's gnuradio package)")
    env = dict(os.environ, GRC_BLOCKS_PATH=grc_blocks_path())
    proc = subprocess.run([grcc, "-o", str(out_dir), str(grc_path)], env=env, capture_output=True, text=True,
                          timeout=300)
    generated = out_dir / f"{_flowgraph_id(grc_path)}.py"
    if proc.returncode != 0 or not generated.is_file():
        raise RuntimeError(f"grcc failed on {grc_path} (exit {proc.returncode}, GRC_BLOCKS_PATH="
                           f"{env['GRC_BLOCKS_PATH']}):\n{proc.stdout}\n{proc.stderr}")
    # grcc exits 0 and writes a script without the blocks it could not find: refuse that script
    if uses_semcom_blocks(grc_path) and "from gnuradio import semcom" not in generated.read_text():
        generated.unlink()
        raise RuntimeError(f"grcc compiled {grc_path} without its semcom blocks (GRC_BLOCKS_PATH="
                           f"{env['GRC_BLOCKS_PATH']} lacks the gr-semcom block YAML; run `make setup`)")
    return generated


def uses_semcom_blocks(grc_path) -> bool:
    """True when the .grc file holds a semcom block (ids ``semcom_*``)."""
    import yaml

    doc = yaml.safe_load(Path(grc_path).read_text()) or {}
    return any(str(b.get("id", "")).startswith("semcom_") for b in doc.get("blocks", []))


def _flowgraph_id(grc_path: Path) -> str:
    """The ``options`` block id of a .grc file (the generated file's name)."""
    import yaml

    data = yaml.safe_load(Path(grc_path).read_text())
    return str(data["options"]["parameters"]["id"])


def _ensure_gnuradio_semcom() -> None:
    """Make ``from gnuradio import semcom`` work when running from the source tree."""
    try:
        import gnuradio.semcom  # noqa: F401
    except ImportError:
        import gnuradio

        pkg = sys.modules[__package__.rpartition(".")[0]]   # the semcom package, parent of running
        sys.modules["gnuradio.semcom"] = pkg
        gnuradio.semcom = pkg


def load_top_block_class(py_path):
    """Import a generated flowgraph file and return its top block class."""
    _ensure_gnuradio_semcom()
    py_path = Path(py_path)
    name = f"_semcom_fg_{py_path.stem}_{abs(hash(str(py_path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, py_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, py_path.stem)


def compiled_top_block(grc_path=None, name: str = LOOPBACK_GRC):
    """The top block class of a flowgraph, compiled once per process (and per file change)."""
    grc_path = Path(grc_path).resolve() if grc_path else find_flowgraph(name)
    key = (str(grc_path), grc_path.stat().st_mtime_ns)
    with _compile_lock:
        if key not in _compiled:
            out_dir = Path(tempfile.mkdtemp(prefix="semcom_grc_"))
            atexit.register(shutil.rmtree, out_dir, True)
            _compiled[key] = load_top_block_class(compile_grc(grc_path, out_dir))
        return _compiled[key]
