"""Captured samples as SigMF recordings (``<name>.sigmf-data`` + ``<name>.sigmf-meta``), written and read
with the ``sigmf`` package: what a radio or a simulated transmitter sent, replayable through the receiver.

The data are interleaved complex float32 (``cf32_le``), which is also what GNU Radio's file sink and
source read and write. The burst format's parameters (FFT size, cyclic prefix, bundle id, images) go into
the global object under the ``semcom:`` namespace, so that a replay configures its receiver from the file.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

__all__ = ["CaptureError", "read_capture", "write_capture"]

DATATYPE = "cf32_le"
NAMESPACE = "semcom:"


class CaptureError(ValueError):
    """A SigMF capture that cannot be read as semcom samples (missing files, another data type, bad JSON)."""


def _base(path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".sigmf-data", ".sigmf-meta") else path


def write_capture(path, samples, sample_rate: float, description: str = "", center_frequency: float | None = None,
                  **semcom_fields) -> Path:
    """Write ``samples`` (complex) as ``<path>.sigmf-data`` and its metadata ``<path>.sigmf-meta``; returns the
    meta file. ``semcom_fields`` (numbers or strings) are recorded as ``semcom:<name>``."""
    from sigmf import SigMFFile

    base = _base(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    data = np.ascontiguousarray(np.asarray(samples, dtype=np.complex64).reshape(-1))
    if not np.isfinite(data.view(np.float32)).all():
        raise ValueError("samples to record contain NaN or infinite values")
    data_path = base.with_suffix(".sigmf-data")
    data.tofile(data_path)
    meta = SigMFFile(data_file=str(data_path), global_info={     # the SigMF core keys, as the standard names them
        "core:datatype": DATATYPE, "core:sample_rate": float(sample_rate), "core:description": description,
        "core:recorder": "semcom", **{NAMESPACE + key: value for key, value in semcom_fields.items()}})
    capture = {"core:datetime": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    if center_frequency is not None:
        capture["core:frequency"] = float(center_frequency)
    meta.add_capture(0, metadata=capture)
    meta_path = base.with_suffix(".sigmf-meta")
    meta.tofile(str(meta_path))
    return meta_path


def read_capture(path) -> tuple[np.ndarray, dict]:
    """(complex64 samples, {"sample_rate", "description", and the ``semcom:`` fields without the prefix}) of a
    SigMF recording; :class:`CaptureError` naming the file when it cannot be used."""
    from sigmf import sigmffile

    base = _base(path)
    meta_path, data_path = base.with_suffix(".sigmf-meta"), base.with_suffix(".sigmf-data")
    for p in (meta_path, data_path):
        if not p.is_file():
            raise CaptureError(f"SigMF capture {base}: {p.name} is missing (a capture is a .sigmf-meta and a "
                               f".sigmf-data file side by side)")
    try:
        record = sigmffile.fromfile(str(meta_path))
        info = record.get_global_info()
    except Exception as err:  # noqa: BLE001 - any parse or checksum failure: the file is not usable
        raise CaptureError(f"SigMF capture {meta_path} cannot be read ({err})") from err
    datatype = info.get("core:datatype")
    if datatype != DATATYPE:
        raise CaptureError(f"SigMF capture {meta_path} holds {datatype!r} samples; semcom reads {DATATYPE} "
                           f"(complex float32, as GNU Radio's file sink writes)")
    if data_path.stat().st_size % 8:
        raise CaptureError(f"SigMF capture {data_path}: {data_path.stat().st_size} bytes is not a whole number of "
                           f"complex float32 samples (8 bytes each)")
    samples = np.fromfile(data_path, dtype=np.complex64)
    fields = {key[len(NAMESPACE):]: value for key, value in info.items() if key.startswith(NAMESPACE)}
    return samples, {"sample_rate": info.get("core:sample_rate"), "description": info.get("core:description", ""),
                     **fields}
