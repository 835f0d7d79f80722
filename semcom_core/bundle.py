"""Exported model bundles: a folder with `weights.safetensors` and `card.json`.

The card says what the weights are (method, architecture specs, k, n, q, dataset and its
normalisation, training channel and SNR range, measured metrics, the producing command); the
networks are rebuilt from the specs and the tensors loaded with safetensors, so loading a bundle
never unpickles code. Every problem with a bundle is reported as a BundleError naming the path.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from . import __version__
from .methods.mijscc import latent_to_symbols, symbols_to_latent
from .methods.transceiver import Transceiver, transceiver_specs
from .models import build_model
from .symbols.sideinfo import SideInfo

# Optional networks a bundle may carry besides encoder, decoder and image classifier:
# A-MIJSCC's noise-adaptive mask, and the classifier that reads the received latent (MIJSCC).
EXTRA_PARTS = ("adaptive_mask", "latent_classifier")

BUNDLE_FORMAT = "semcom-bundle/1"
WEIGHTS, CARD = "weights.safetensors", "card.json"
REQUIRED_CARD_KEYS = ("format", "method", "k", "n", "ratio", "q", "image_shape", "dataset", "architecture")


class BundleError(RuntimeError):
    """A bundle is missing, corrupt, or does not match what it is used for."""


@dataclass
class Bundle:
    path: Path
    card: dict
    transceiver: Transceiver
    classifier: nn.Module | None = None
    extra: dict = field(default_factory=dict)   # EXTRA_PARTS present in the bundle, by name

    @property
    def k(self) -> int:
        return int(self.card["k"])

    @property
    def q(self) -> int | None:
        return self.card["q"]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.card["image_shape"])

    @property
    def bundle_id(self) -> int:
        """16-bit id of this bundle (from its card) that over-the-air frame headers carry."""
        from .symbols.phy_header import bundle_id

        return bundle_id(self.card)

    @property
    def codec(self):
        return self.transceiver.codec

    def check_images(self, images: torch.Tensor) -> None:
        if images.ndim != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"bundle {self.path} expects images [B,{','.join(map(str, self.image_shape))}], "
                             f"got {tuple(images.shape)}")

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images [B,C,H,W] in [0,1] -> real latent [B, 2k]."""
        self.check_images(images)
        return self.transceiver.encoder(images.float())

    @torch.no_grad()
    def decode(self, z_hat: torch.Tensor) -> torch.Tensor:
        """Received latent [B, 2k] -> reconstructions [B,C,H,W]."""
        return self.transceiver.decoder(z_hat.float())

    @torch.no_grad()
    def classify(self, images: torch.Tensor) -> torch.Tensor:
        if self.classifier is None:
            raise BundleError(f"bundle {self.path} has no classifier")
        return self.classifier(images.float())

    # --- framed transmission (MIJSCC / A-MIJSCC: symbols + side information per image) ---------------
    @property
    def adaptive(self) -> bool:
        """True when the bundle carries A-MIJSCC's noise-adaptive channel mask."""
        return "adaptive_mask" in self.extra

    def default_noise_var(self) -> float:
        """Noise variance used when none is fed back: the middle of the training SNR range."""
        snrs = self.card.get("train_snr_db") or [10.0, 10.0]
        return 10 ** (-(float(snrs[0]) + float(snrs[-1])) / 20)

    @torch.no_grad()
    def transmit(self, images: torch.Tensor, noise_var: float | None = None, codec=None,
                 adaptive: bool = True) -> list[tuple[np.ndarray, SideInfo]]:
        """Images [B,C,H,W] -> one (payload complex64 [end], SideInfo) per image.

        ``noise_var`` (per complex symbol, 10^(-SNR/10)) drives the A-MIJSCC mask; ``codec`` overrides the
        bundle's symbol codec (e.g. analog); ``adaptive=False`` sends all k symbols.
        """
        codec = codec or self.codec
        z = self.encode(images)
        end = None
        if adaptive and self.adaptive:
            nv = self.default_noise_var() if noise_var is None else float(noise_var)
            if not (np.isfinite(nv) and nv >= 0):
                raise ValueError(f"noise variance must be finite and >= 0, got {noise_var}")
            out = self.extra["adaptive_mask"](z, torch.full((z.shape[0],), nv))
            z, end = out.z, out.end
        s, side = latent_to_symbols(codec, z, end)
        s = s.to(torch.complex64).numpy()
        ends = [self.k] * len(s) if end is None else end.tolist()
        frames = []
        for i, n_sent in enumerate(ends):
            if codec.q:
                z_min, z_max = float(side["z_min"][i]), float(side["z_max"][i])
                if not z_max > z_min:   # constant latent: every level is 0, any wider range decodes it exactly
                    z_max = z_min + 1.0
                info = SideInfo(int(codec.q), int(n_sent), z_min, z_max)
            else:
                info = SideInfo(0, int(n_sent))
            frames.append((s[i, :n_sent].copy(), info))
        return frames

    @torch.no_grad()
    def receive(self, frames, codec=None) -> tuple[np.ndarray, np.ndarray]:
        """(payload [end], SideInfo) per image -> (reconstructions float32 [B,C,H,W], classes int64 [B]).

        The class comes from the latent classifier when the bundle has one, else from the image
        classifier on the reconstruction. Raises ValueError for side information that contradicts the
        bundle (:meth:`SideInfo.problem`) or a payload whose length is not ``end``.
        """
        codec = codec or self.codec
        if not frames:
            raise ValueError("no frames to decode")
        y = torch.zeros(len(frames), self.k, dtype=torch.complex64)
        for i, (payload, info) in enumerate(frames):
            reason = info.problem(self.k, codec.q)
            if reason:
                raise ValueError(f"frame {i}: {reason}")
            payload = np.asarray(payload)
            if payload.shape != (info.end,):
                raise ValueError(f"frame {i}: payload of {payload.shape} symbols, side information says {info.end}")
            y[i, :info.end] = torch.from_numpy(payload.astype(np.complex64))
        side = {}
        if codec.q:
            side = {"z_min": torch.tensor([f[1].z_min for f in frames]), "z_max": torch.tensor([f[1].z_max for f in frames])}
        end = torch.tensor([f[1].end for f in frames])
        z_hat = symbols_to_latent(codec, y, side, end)
        x_hat = self.decode(z_hat)
        if "latent_classifier" in self.extra:
            pred = self.extra["latent_classifier"](z_hat).argmax(1)
        else:
            pred = self.classify(x_hat).argmax(1)
        return x_hat.float().numpy(), pred.numpy().astype(np.int64)


def _state(prefix: str, module: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{name}": t.detach().cpu().contiguous() for name, t in module.state_dict().items()}


def save_bundle(path: str | Path, transceiver: Transceiver, card: dict, classifier: nn.Module | None = None,
                classifier_spec: dict | None = None, extra: dict | None = None) -> Path:
    """Write weights and card; `card` supplies method, dataset, metrics, command and the like.
    `extra` maps names of EXTRA_PARTS to (module, spec)."""
    extra = dict(extra or {})
    unknown = set(extra) - set(EXTRA_PARTS)
    if unknown:
        raise ValueError(f"unknown bundle parts {sorted(unknown)}; known: {', '.join(EXTRA_PARTS)}")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    enc = transceiver.encoder_spec
    n = math.prod(enc["image_shape"])
    full = {
        "format": BUNDLE_FORMAT,
        "k": transceiver.k, "n": n, "ratio": transceiver.k / n, "q": transceiver.q,
        "image_shape": list(enc["image_shape"]),
        "architecture": {"encoder": transceiver.encoder_spec, "decoder": transceiver.decoder_spec,
                         "classifier": classifier_spec if classifier is not None else None,
                         **{name: spec for name, (_module, spec) in extra.items()}},
        "code_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **card,
    }
    tensors = _state("encoder", transceiver.encoder) | _state("decoder", transceiver.decoder)
    if classifier is not None:
        tensors |= _state("classifier", classifier)
    for name, (module, _spec) in extra.items():
        tensors |= _state(name, module)
    save_file(tensors, str(path / WEIGHTS), metadata={"format": BUNDLE_FORMAT})
    write_card(path, full)
    return path


def write_card(path: str | Path, card: dict) -> None:
    """(Re)write a bundle's card.json, e.g. to record metrics measured after export."""
    (Path(path) / CARD).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")


def load_part(module: nn.Module, tensors: dict, prefix: str, path: Path) -> None:
    """Load the `prefix.*` tensors into `module`, strictly; BundleError naming `path` on mismatch."""
    part = {name[len(prefix) + 1:]: t for name, t in tensors.items() if name.startswith(prefix + ".")}
    try:
        module.load_state_dict(part, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise BundleError(f"bundle {path}: weights for {prefix} do not match the card's architecture ({first})") from err


def read_card(path: str | Path, card_format: str = BUNDLE_FORMAT, required=REQUIRED_CARD_KEYS) -> dict:
    """The card of the bundle folder ``path``, checked for ``card_format`` and the ``required`` keys."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"bundle {path} does not exist or is not a folder (expected {WEIGHTS} and {CARD} in it)")
    try:
        card = json.loads((path / CARD).read_text())
    except FileNotFoundError as err:
        raise BundleError(f"bundle {path} has no {CARD}") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(f"bundle {path}: {CARD} is not valid JSON ({err})") from err
    missing = [key for key in required if key not in card] if isinstance(card, dict) else ["all"]
    if missing:
        raise BundleError(f"bundle {path}: {CARD} lacks {', '.join(missing)}")
    if card["format"] != card_format:
        raise BundleError(f"bundle {path}: format {card['format']!r}, this version reads {card_format!r}")
    return card


def load_bundle(path: str | Path, method: str | None = None) -> Bundle:
    """Load a bundle; with `method`, refuse a bundle made by another method (BundleError)."""
    path = Path(path)
    card = read_card(path)
    if method is not None and card["method"] != method:
        raise BundleError(f"bundle {path} holds a {card['method']!r} transceiver, not {method!r}")
    arch = card["architecture"]
    try:
        transceiver = Transceiver(arch["encoder"], arch["decoder"], int(card["k"]), card["q"])
        classifier = build_model(arch["classifier"]) if arch.get("classifier") else None
    except (ValueError, KeyError, TypeError) as err:
        raise BundleError(f"bundle {path}: cannot build the networks its card describes ({err})") from err
    if transceiver.encoder_spec.get("k") != card["k"] or list(arch["encoder"]["image_shape"]) != list(card["image_shape"]):
        raise BundleError(f"bundle {path}: card k/image_shape contradict the encoder spec")
    try:
        tensors = load_file(str(path / WEIGHTS))
    except FileNotFoundError as err:
        raise BundleError(f"bundle {path} has no {WEIGHTS}") from err
    except (SafetensorError, OSError, ValueError) as err:
        raise BundleError(f"bundle {path}: {WEIGHTS} is corrupt ({err})") from err
    load_part(transceiver.encoder, tensors, "encoder", path)
    load_part(transceiver.decoder, tensors, "decoder", path)
    if classifier is not None:
        load_part(classifier, tensors, "classifier", path)
        classifier.eval()
    extra = {}
    for name in EXTRA_PARTS:
        if arch.get(name):
            try:
                extra[name] = build_model(arch[name])
            except (ValueError, KeyError, TypeError) as err:
                raise BundleError(f"bundle {path}: cannot build its {name} ({err})") from err
            load_part(extra[name], tensors, name, path)
            extra[name].eval()
    transceiver.eval()
    return Bundle(path=path, card=card, transceiver=transceiver, classifier=classifier, extra=extra)


def make_untrained_bundle(path: str | Path, image_shape=(1, 28, 28), ratio: float = 1 / 12, width: int = 16,
                          q: int | None = None, seed: int = 0, method: str = "deepjscc", eta: float = 1.2) -> Path:
    """A randomly initialised bundle of a real shape, for tests that need any bundle. `method` "mijscc" or
    "a-mijscc" gives the MIJSCC networks with a latent classifier (and, for A-MIJSCC, the adaptive mask)."""
    torch.manual_seed(seed)
    arch = "mijscc" if method in ("mijscc", "a-mijscc") else "jscc"
    enc, dec, k = transceiver_specs(image_shape, ratio, width, arch)
    classifier_spec = {"arch": "resnet_cifar", "depth": 8, "in_channels": image_shape[0], "num_classes": 10}
    extra = {}
    if arch == "mijscc":
        spec = {"arch": "latent_mlp", "in_dim": 2 * k, "num_classes": 10, "hidden": 64}
        extra["latent_classifier"] = (build_model(spec), spec)
    if method == "a-mijscc":
        spec = {"arch": "adaptive_mask", "k": k, "eta": eta}
        extra["adaptive_mask"] = (build_model(spec), spec)
    card = {"method": method, "dataset": {"name": "fashion-mnist", "normalisation": "pixel / 255"},
            "train_snr_db": [6.0, 21.0] if arch == "mijscc" else None, "metrics": {},
            "command": "make_untrained_bundle", "trained": False}
    return save_bundle(path, Transceiver(enc, dec, k, q), card, build_model(classifier_spec), classifier_spec, extra)
