#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Metrics sink: PSNR, SSIM, MS-SSIM and accuracy of received images against the originals, and the link's
EVM, BLER and raw BER where the channel and receivers report them."""

from __future__ import annotations

import math
import sys
import threading

import numpy as np
from gnuradio import gr

from .base.bundles import load_bundle
from .base.log import OnceLog, RecordOnce, use_torch_threads
from .base.pdu import parse_pdu, register_ports

_BATCH = 64
#: Codeword and bit counts a digital receiver puts into each frame's metadata (BLER, raw BER).
LINK_COUNTS = ("code_blocks", "block_errors", "coded_bits", "bit_errors")
_SSIM_BACKLOG = 4096


class metrics_sink(gr.basic_block):
    """Match received PDUs to the transmitted ones and tally the metrics.

    Message inputs: ``ref`` (original image PDUs, e.g. from ``image_source``)
    and ``rx`` (received PDUs from ``jscc_rx``, whose metadata has ``index``
    and ``pred``). PDUs are matched by ``index`` in whichever order they come
    (both sides are buffered). For every pair it computes PSNR and SSIM with
    ``semcom_core.metrics`` and whether ``pred`` equals the label. PSNR is
    computed in batches as pairs come in; SSIM, the costlier one, when a
    summary is asked for (at ``done()``, ``stop()`` or ``summary()``).

    Digital links (``digital_rx``) say in the metadata whether an image was
    ``lost`` (it then carries the stand-in image, which is scored like any
    other). Once such metadata is seen, the summary counts ``lost`` and gives
    ``delivered`` (the fraction of matched images not lost), and the record
    gains ``delivered``. A ``ratio`` in the received metadata (``digital_rx``
    puts its channel uses per source value there, which need not be the
    bundle's) replaces the card's bandwidth ratio in the summary and record.

    Link quality, from the received metadata when it is there: ``evm_db``
    per frame (the ``channel`` block tags it) gives the summary's ``evm_db``
    and ``evm_percent`` (rms over the frames); the codeword and bit counts of
    ``digital_rx`` give ``bler`` (codewords that failed their checks) and
    ``ber`` (raw bit errors before decoding, over the codewords that
    decoded). Those present also go into the record.

    Args:
        bundle_path: bundle whose card provides method, dataset and bandwidth
            ratio for the record (optional).
        out_path: JSON-lines file to append one record to (``source="flowgraph"``);
            empty: no record.
        channel: channel name for the record.
        snr_db: SNR for the record; NaN takes the ``snr_db`` the channel block
            put into the received metadata.
        num_images: pairs expected; ``done()`` turns true when they are in, and
            the record is written then (or at ``stop()`` if fewer arrived).
        method, dataset: override the names taken from the bundle card.
        seed: seed recorded with the result.

    Getters: ``count()``, ``done()``, ``summary()`` (a dict).
    """

    def __init__(self, bundle_path="", out_path="", channel="awgn", snr_db=float("nan"), num_images=0,
                 method="", dataset="", seed=0):
        gr.basic_block.__init__(self, name="semcom_metrics_sink", in_sig=None, out_sig=None)
        card = load_bundle(bundle_path).card if bundle_path else {}
        ds = card.get("dataset")
        ds_name = ds.get("name") if isinstance(ds, dict) else ds
        self.labels = {
            "method": str(method or card.get("method", "unknown")),
            "dataset": str(dataset or ds_name or "unknown"),
            "channel": str(channel),
            "ratio": float(card.get("ratio", float("nan"))),
            "seed": int(seed),
        }
        self._snr_param = float(snr_db)
        self.out_path = str(out_path or "")
        self.num_images = max(0, int(num_images))
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._ref: dict = {}          # index -> (meta, image) waiting for its received partner
        self._rx: dict = {}           # index -> (meta, image) waiting for its reference
        self._pairs: list = []        # matched, PSNR not computed yet: (ref, rx, shape)
        self._ssim_pending: list = [] # PSNR computed, SSIM not yet (computed when a summary is asked for)
        self._psnr: list = []
        self._ssim: list = []
        self._ms_ssim: list = []
        self._correct = 0
        self._labelled = 0
        self._count = 0
        self._invalid = 0             # pairs with NaN or inf in an image: counted, kept out of the figures
        self._unmatchable = 0         # reference PDUs that cannot be read: their image is counted as sent
        self._snr_seen: list = []
        self._lost = 0
        self._lost_seen = False       # some received metadata said whether its image was lost
        self._ratio_seen = None       # bandwidth ratio from the received metadata, if any
        self._evm: list = []          # per frame EVM (dB) from the channel's evm_db tag
        self._link = {key: 0 for key in LINK_COUNTS}   # codeword and bit counts of digital links
        self._link_seen = False
        self._log = OnceLog(f"semcom_metrics_sink{self.unique_id()}")
        self._record = RecordOnce(self.out_path, self._log)
        register_ports(self, {"ref": self._handle_ref, "rx": self._handle_rx})

    # -- message handling ----------------------------------------------------
    def _parse(self, msg, side):
        try:
            meta, data = parse_pdu(msg)
        except ValueError as err:
            self._log.problem(f"bad {side} message", str(err))
            return None
        if "index" not in meta:
            self._log.problem(f"{side} PDU without index", "cannot match it")
            return None
        return meta, data

    def _handle_ref(self, msg):
        self._guarded("ref", msg)

    def _handle_rx(self, msg):
        self._guarded("rx", msg)

    def _guarded(self, side: str, msg) -> None:
        """Handle a PDU of port ``side``; what goes wrong is counted, never raised."""
        use_torch_threads(1)   # scoring runs in this block's thread; one torch thread is plenty
        try:
            self._on_pdu(side, msg)
        except Exception as err:  # noqa: BLE001 - a bad message must not stop the flowgraph
            self._log.problem(f"{side} message failed", repr(err))

    def _on_pdu(self, side: str, msg):
        """Keep a reference or received PDU until its partner (same ``index``) arrives, then score the pair."""
        parsed = self._parse(msg, side)
        if parsed is None:
            if side == "ref":               # a reference that cannot be read still was an image sent
                with self._lock:
                    self._unmatchable += 1
                self._after()
            return
        meta, data = parsed
        ratio = meta.get("ratio")
        if side == "rx" and isinstance(ratio, (int, float)) and not isinstance(ratio, bool):
            self._ratio_seen = float(ratio)
        mine, other = (self._ref, self._rx) if side == "ref" else (self._rx, self._ref)
        with self._lock:
            partner = other.pop(meta["index"], None)
            if partner is None:
                mine[meta["index"]] = (meta, data)
            else:
                self._match(*(((meta, data), partner) if side == "ref" else (partner, (meta, data))))
        self._after()

    def _match(self, ref, rx):
        """Score one (reference, received) pair of ``(meta, values)``. Called with the lock held."""
        (ref_meta, ref_image), (rx_meta, rx_image) = ref, rx
        if ref_image.size != rx_image.size:
            self._log.problem("size mismatch", f"reference {ref_image.size} vs received {rx_image.size} values")
            return
        label = ref_meta.get("label") if ref_meta.get("label") is not None else rx_meta.get("label")
        pred, snr, lost = rx_meta.get("pred"), rx_meta.get("snr_db"), rx_meta.get("lost")
        self._count += 1
        self._link_quality(rx_meta)
        if not (np.isfinite(ref_image).all() and np.isfinite(rx_image).all()):
            self._invalid += 1
            self._log.problem("non-finite image", f"index {ref_meta.get('index')}: kept out of the figures")
            return
        self._pairs.append((ref_image, rx_image, ref_meta.get("shape")))
        if label is not None and pred is not None:
            self._labelled += 1
            self._correct += int(int(pred) == int(label))
        if snr is not None:
            self._snr_seen.append(float(snr))
        if lost is not None:
            self._lost_seen = True
            self._lost += int(bool(lost))
        if len(self._pairs) >= _BATCH:
            # SSIM waits for summary() (after done()), unless memory asks for it sooner
            self._score(with_ssim=len(self._ssim_pending) >= _SSIM_BACKLOG)

    def _link_quality(self, meta: dict) -> None:
        """The frame's EVM and codeword / bit counts, when its receiver or channel put them there."""
        evm = meta.get("evm_db")
        if isinstance(evm, (int, float)) and not isinstance(evm, bool) and math.isfinite(evm):
            self._evm.append(float(evm))
        if all(isinstance(meta.get(key), int) for key in LINK_COUNTS):
            self._link_seen = True
            for key in LINK_COUNTS:
                self._link[key] += int(meta[key])

    @staticmethod
    def _batches(pairs):
        """Group (ref, rx, shape) pairs by image shape; yields (x, y) tensors [B, C, H, W]."""
        import torch

        groups: dict = {}
        for ref, rx, shape in pairs:
            groups.setdefault((ref.size, tuple(shape) if shape else None), []).append((ref, rx))
        for (size, shape), group in groups.items():
            if shape is None or int(np.prod(shape)) != size:
                shape = (1, 1, size)
            x = torch.from_numpy(np.stack([p[0] for p in group]).reshape((len(group),) + tuple(shape)))
            y = torch.from_numpy(np.stack([p[1] for p in group]).reshape((len(group),) + tuple(shape)))
            yield x, y

    def _score(self, with_ssim=False):
        """PSNR of the pending pairs in one batch; SSIM (costlier) only when asked. Lock held."""
        from semcom_core.metrics import ms_ssim, psnr, ssim

        if self._pairs:
            for x, y in self._batches(self._pairs):
                self._psnr.extend(psnr(x, y).tolist())
            self._ssim_pending.extend(self._pairs)
            self._pairs = []
        if with_ssim and self._ssim_pending:
            pending, self._ssim_pending = self._ssim_pending, []
            for lo in range(0, len(pending), 256):
                for x, y in self._batches(pending[lo: lo + 256]):
                    try:
                        self._ssim.extend(ssim(x, y).tolist())
                        self._ms_ssim.extend(ms_ssim(x, y).tolist())
                    except Exception as err:  # noqa: BLE001 - e.g. images smaller than the SSIM window
                        self._log.problem("ssim unavailable", repr(err))

    def _after(self):
        if self.num_images and self._count + self._unmatchable >= self.num_images and not self._done.is_set():
            with self._lock:
                self._score()
            self._done.set()
            self._write_record()

    def set_num_images(self, num_images):
        """Pairs expected before ``done()`` turns true."""
        self.num_images = max(0, int(num_images))
        self._after()

    def set_snr_db(self, snr_db):
        """SNR label of the record (NaN: the SNR tagged by the channel block)."""
        self._snr_param = float(snr_db)

    # -- getters -------------------------------------------------------------
    def count(self) -> int:
        """Matched (reference, received) pairs."""
        return self._count

    def done(self) -> bool:
        """True once num_images pairs were matched."""
        return self._done.is_set()

    def wait_done(self, timeout=None) -> bool:
        return self._done.wait(timeout)

    def summary(self) -> dict:
        with self._lock:
            self._score(with_ssim=True)
            p = np.asarray(self._psnr, dtype=np.float64)
            s = np.asarray(self._ssim, dtype=np.float64)
            ms = np.asarray(self._ms_ssim, dtype=np.float64)
            snr = self._snr_param
            if math.isnan(snr) and self._snr_seen:
                snr = float(np.mean(self._snr_seen))
            out = {
                **self.labels,
                **({} if self._ratio_seen is None else {"ratio": self._ratio_seen}),
                "snr_db": snr,
                "count": self._count,
                "invalid": self._invalid + self._unmatchable,
                "psnr": float(p.mean()) if p.size else float("nan"),
                "psnr_std": float(p.std(ddof=1)) if p.size > 1 else float("nan"),
                "ssim": float(s.mean()) if s.size else float("nan"),
                "ms_ssim": float(ms.mean()) if ms.size else float("nan"),
                "accuracy": self._correct / self._labelled if self._labelled else float("nan"),
                "unmatched_ref": len(self._ref),
                "unmatched_rx": len(self._rx),
                "problems": self._log.total(),
            }
            if self._evm:       # rms over the frames: the mean of the linear error powers
                out["evm_db"] = float(10 * np.log10(np.mean(10 ** (np.asarray(self._evm) / 10))))
                out["evm_percent"] = float(100 * 10 ** (out["evm_db"] / 20))
            if self._link_seen:
                c = self._link
                out["bler"] = c["block_errors"] / c["code_blocks"] if c["code_blocks"] else float("nan")
                out["ber"] = c["bit_errors"] / c["coded_bits"] if c["coded_bits"] else float("nan")
                out.update(c)
            if self._lost_seen:
                out["lost"] = self._lost
                out["delivered"] = 1.0 - self._lost / self._count if self._count else float("nan")
            return out

    def psnr_values(self) -> np.ndarray:
        """Per-image PSNR (dB) of the pairs scored so far."""
        with self._lock:
            self._score()
            return np.asarray(self._psnr, dtype=np.float64)

    def record(self) -> dict:
        """The result record of this run (``semcom_core.records.make_record``)."""
        from semcom_core.records import make_record

        s = self.summary()
        metrics = {"psnr": s["psnr"], "ssim": s["ssim"], "ms_ssim": s["ms_ssim"], "accuracy": s["accuracy"]}
        for key in ("delivered", "evm_db", "bler", "ber"):
            if key in s:
                metrics[key] = s[key]
        return make_record(s["method"], s["dataset"], s["channel"], s["snr_db"], s["ratio"], metrics,
                           samples=s["count"] - self._invalid, seed=s["seed"], source="flowgraph",
                           invalid=s["invalid"])

    def _write_record(self):
        if self._count + self._unmatchable:
            self._record.write(self.record)

    def stop(self):
        self._write_record()
        self._print_summary()
        return True

    def _print_summary(self):
        """One line on stderr when the flowgraph stops, so a generated flowgraph never ends silently."""
        try:
            s = self.summary()
            if not s["count"]:
                return
            parts = [f"{s['count']} images", f"PSNR {s['psnr']:.2f} dB", f"accuracy {100 * s['accuracy']:.1f} %"]
            if "delivered" in s:
                parts.append(f"delivered {100 * s['delivered']:.1f} %")
            if "evm_db" in s:
                parts.append(f"EVM {s['evm_db']:.1f} dB ({s['evm_percent']:.1f} %)")
            if "bler" in s:
                parts.append(f"BLER {s['bler']:.3g}, raw BER {s['ber']:.3g}")
            parts.append(f"{s['problems']} problems")
            where = f"; record appended to {self.out_path}" if self._record.written else ""
            print(f"semcom metrics: {', '.join(parts)}{where}", file=sys.stderr, flush=True)
        except Exception:  # noqa: BLE001 - a summary must not take the flowgraph down
            pass
