"""The SemCC experiment's evaluation: the test images and downstream classifiers on one device, each run's
record at a channel/SNR point (kept in, and once there read from, the sweep's ledger), the linear probe on
the received latent, and the classical link beside the robustness cases."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from ..bundles.evaluate import evaluate_models
from ..channels import make_channel
from ..data import load_dataset
from ..models import build_model
from ..records import make_record
from ..runs.config import ConfigError
from ..runs.folder import RUN_FILE, read_run
from ..runs.image import load_run
from .classical import best_digital_records
from .ledger import Ledger

__all__ = ["Evaluator", "robustness_digital"]


class Evaluator:
    """Test images and classifiers on one device; evaluates run weights at channel/SNR points, each record
    kept in (and, once there, read from) the sweep's ledger."""

    def __init__(self, classifiers: dict, dataset: str, samples: int, device: str, ledger: Ledger, seed: int = 0,
                 root=None):
        data = load_dataset(dataset, "test", root=root)
        samples = min(samples, len(data))
        self.dataset, self.samples, self.seed, self.device = dataset, samples, seed, torch.device(device)
        self.ledger = ledger
        self.images, self.labels = (t.to(self.device) for t in data.batch(range(samples)))
        self.classifiers = {}
        for name, info in classifiers.items():
            net = build_model(info["spec"])
            net.load_state_dict(load_file(str(info["weights"])))
            self.classifiers[name] = net.eval().to(self.device)
        self.clean = {name: self._accuracy(net, self.images) for name, net in self.classifiers.items()}
        self._loaded = {}
        self._said = set()            # what was left out, told once per sweep rather than at every evaluation

    @torch.no_grad()
    def _accuracy(self, net, images) -> float:
        return sum((net(images[i:i + 500]).argmax(1) == self.labels[i:i + 500]).sum().item()
                   for i in range(0, len(images), 500)) / len(images)

    def _say_once(self, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            print(message)

    def transceiver(self, run_dir: Path, stage: str | None = None):
        """(run, transceiver on the device), read from disk once per run and stage."""
        if (run_dir, stage) not in self._loaded:
            run, transceiver, _ = load_run(run_dir, stage=stage)
            self._loaded[(run_dir, stage)] = run, transceiver.to(self.device)
        return self._loaded[(run_dir, stage)]

    def channel(self, key):
        """The sweep point's channel, its noise drawn from the evaluation seed (every measurement alike)."""
        return make_channel(key.channel, generator=torch.Generator().manual_seed(self.seed))

    def run_facts(self, run_dir: Path) -> dict:
        """The run's ``run.json``, from its folder or else from the ledger."""
        return read_run(run_dir) if (run_dir / RUN_FILE).is_file() else self.ledger.entry(run_dir.name)["run"]

    def point(self, run_dir: Path, key, snr: float, classifier: str, stage: str | None = None,
              probe: tuple | None = None, **extra) -> dict | None:
        """The record of the run in ``run_dir`` (as the sweep point ``key``'s method, a ``RunKey``) at ``snr`` judged by
        ``classifier``, with the accuracy of a linear probe on the received latent when ``probe`` holds its
        training (images, labels); None when the ledger has no such record and the weights are not here."""
        def measure() -> dict:
            run, transceiver = self.transceiver(run_dir, stage)
            channel = self.channel(key)
            metrics = evaluate_models(transceiver, self.classifiers[classifier], channel, snr, self.images, self.labels)
            invalid = metrics.pop("invalid")
            if probe is not None:
                metrics["latent_probe_accuracy"] = self.latent_probe(run_dir, key, *probe)
            return make_record(key.method, self.dataset, key.channel, snr, key.ratio, metrics, self.samples - invalid,
                               run["config"]["seed"], source="experiment", eval_seed=self.seed, invalid=invalid,
                               train_snr_db=key.snr, classifier=classifier, clean_accuracy=self.clean[classifier],
                               run=run_dir.name, k=run["k"])
        point_key = json.dumps({"method": key.method, "channel": key.channel, "snr_db": float(snr), "stage": stage,
                                "classifier": classifier, "samples": self.samples, "eval_seed": self.seed,
                                "probe_images": None if probe is None else len(probe[0])}, sort_keys=True)
        record = self.ledger.point(run_dir.name, point_key, run_dir, measure)
        if record is None:
            self._say_once(f"experiment: {run_dir.name}: no record at {snr:g} dB ({classifier}, stage {stage}) in the "
                           f"ledger and no weights in {run_dir}: left out (delete its ledger entry to train it again)")
            return None
        return {**record, **extra}

    def reconstructions(self, run_dir: Path, key, indices: list[int]) -> torch.Tensor | None:
        """The run's reconstructions of the test images ``indices`` sent at its training point, as 8-bit pixels
        (what a figure shows) kept in the ledger, so that the figure is drawn again once the weights are gone;
        None when the ledger has none and the weights are not here."""
        def measure() -> dict:
            _, transceiver = self.transceiver(run_dir)
            channel = self.channel(key)
            with torch.no_grad():
                images = transceiver(self.images[indices], channel, key.snr)
            pixels = (images.float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
            return {"shape": list(pixels.shape), "uint8_base64": base64.b64encode(pixels.tobytes()).decode()}
        point_key = json.dumps({"reconstructions": list(indices), "channel": key.channel, "snr_db": float(key.snr),
                                "eval_seed": self.seed}, sort_keys=True)
        stored = self.ledger.point(run_dir.name, point_key, run_dir, measure)
        if stored is None:
            self._say_once(f"experiment: {run_dir.name}: no reconstructions in the ledger and no weights in {run_dir}: "
                           "left out of the figure")
            return None
        try:         # binascii.Error, a wrong byte count and a wrong shape are all ValueErrors
            pixels = np.frombuffer(base64.b64decode(stored["uint8_base64"], validate=True), dtype=np.uint8)
            pixels = pixels.reshape([int(n) for n in stored["shape"]])
        except (KeyError, TypeError, ValueError):
            pixels = None
        if pixels is None or len(pixels) != len(indices):
            raise ConfigError(f"{self.ledger.path(run_dir.name)}: its reconstructions of test images {list(indices)} "
                              "are damaged; restore the file from version control or delete that point")
        return torch.from_numpy(pixels.astype(np.float32) / 255)

    @torch.no_grad()
    def latent_probe(self, run_dir: Path, key, train_images: torch.Tensor, train_labels: torch.Tensor,
                     epochs: int = 30) -> float:
        """Test accuracy of a linear classifier on the received latent (trained on training images sent
        at the run's SNR): the class information the symbols deliver, whatever the decoder makes of it."""
        _, transceiver = self.transceiver(run_dir)
        channel = self.channel(key)
        receive = lambda x: transceiver.send_through(transceiver.encoder(x), channel, key.snr)[1]  # noqa: E731
        z_train = torch.cat([receive(train_images[i:i + 500].to(self.device)) for i in range(0, len(train_images), 500)])
        z_test = torch.cat([receive(self.images[i:i + 500]) for i in range(0, len(self.images), 500)])
        mean, std = z_train.mean(0), z_train.std(0).clamp_min(1e-6)
        probe = torch.nn.Linear(z_train.shape[1], int(train_labels.max()) + 1).to(self.device)
        opt = torch.optim.Adam(probe.parameters(), lr=1e-2)
        y = train_labels.to(self.device)
        with torch.enable_grad():
            for _ in range(epochs):
                for idx in torch.randperm(len(z_train), generator=torch.Generator().manual_seed(self.seed)).split(256):
                    loss = torch.nn.functional.cross_entropy(probe((z_train[idx] - mean) / std), y[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
        return float((probe((z_test - mean) / std).argmax(1) == self.labels).float().mean())


def robustness_digital(spec: dict, ev: Evaluator, semantic: list[dict]) -> list[dict]:
    """The classical link (best BPG + LDPC + QAM pair per point, and the capacity bound) for each robustness
    case, at its k/n and test SNRs, judged by the case's downstream model (``robustness.digital_samples``
    test images, default 500)."""
    r = spec["robustness"]
    samples = min(int(r.get("digital_samples", 500)), ev.samples)
    records = []
    for case in r["cases"]:
        k = next((rec["k"] for rec in semantic if abs(rec["ratio"] - case["ratio"]) < 1e-9), None)
        if k is None:
            continue
        found = best_digital_records(ev.dataset, ev.images[:samples].cpu(), ev.labels[:samples].cpu(),
                                     ev.classifiers[case["classifier"]].cpu(), case["classifier"], lambda _ratio: k,
                                     [case["ratio"]], r["test_snrs"], [case["channel"]], seed=ev.seed, progress=False)
        records += [{**rec, "train_snr_db": None} for rec in found]
        ev.classifiers[case["classifier"]].to(ev.device)
    return records
