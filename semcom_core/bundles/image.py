"""Bundles of the image family (DeepJSCC, DeepSC, SemCC, SemRE, MIJSCC, A-MIJSCC): the link's networks.

Parts: ``encoder``, ``decoder`` (the :class:`~semcom_core.link.Transceiver`), ``classifier`` (the downstream
image classifier, optional), ``adaptive_mask`` (A-MIJSCC) and ``latent_classifier`` (MIJSCC: classes from
the received latent). The card adds the architecture specs, k, n, q, the image shape, the dataset and its
normalisation, the training channel and SNR range, and ``symbol_power``: the raw power of the quantised
symbols its encoder produces, per bit width, measured on training images when the bundle was written, so
that transmitter and receiver scale quantised symbols to unit power alike.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..link import SideInfo, Transceiver, batch_of, frames_of, symbol_powers, transceiver_specs
from ..models import build_model
from ..units import noise_var_from_snr_db
from .format import BundleError, load_part, read_bundle, write_bundle
from .precision import inference_autocast

__all__ = ["EXTRA_PARTS", "Bundle", "load_bundle", "make_untrained_bundle", "save_bundle"]

#: Optional networks besides encoder, decoder and image classifier.
EXTRA_PARTS = ("adaptive_mask", "latent_classifier")
_REQUIRED = ("k", "n", "ratio", "q", "image_shape", "dataset", "architecture")


@dataclass
class Bundle:
    path: Path
    card: dict
    transceiver: Transceiver
    classifier: nn.Module | None = None
    latent_classifier: nn.Module | None = None
    _links: dict = field(default_factory=dict, repr=False)   # the transceiver with another codec, by q

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
        from ..symbols.bundle_id import bundle_id

        return bundle_id(self.card)

    @property
    def codec(self):
        return self.transceiver.codec

    @property
    def adaptive(self) -> bool:
        """True when the bundle carries A-MIJSCC's noise-adaptive channel mask."""
        return self.transceiver.mask is not None

    def link(self, quant_bits: int = -1) -> Transceiver:
        """The transceiver with the symbols a block asks for: ``quant_bits`` < 0 the bundle's own
        (its card's ``q``), 0 analog, q > 0 a q-bit quantiser."""
        quant_bits = int(quant_bits)
        if quant_bits < 0:
            return self.transceiver
        if quant_bits not in self._links:      # built once: blocks ask for it every batch
            q = quant_bits or None
            self._links[quant_bits] = self.transceiver.with_codec(q, symbol_power_of(self.card, self.path, q))
        return self._links[quant_bits]

    def dataset(self) -> tuple[str, str | None]:
        """(dataset name, root or None) from the card."""
        ds = self.card.get("dataset")
        if isinstance(ds, dict):
            return str(ds["name"]), ds.get("root")
        if isinstance(ds, str):
            return ds, None
        raise BundleError(f"bundle {self.path}: card has no dataset name")

    def check_images(self, images: torch.Tensor) -> None:
        if images.ndim != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"bundle {self.path} expects images [B,{','.join(map(str, self.image_shape))}], "
                             f"got {tuple(images.shape)}")

    # ``precision`` (here and below): "fp32", "bf16" or "auto" (:mod:`.precision`); outputs are float32.
    @torch.no_grad()
    def encode(self, images: torch.Tensor, precision: str = "fp32") -> torch.Tensor:
        """Images [B,C,H,W] in [0,1] -> real latent [B, 2k]."""
        self.check_images(images)
        with inference_autocast(precision):
            return self.transceiver.encoder(images.float()).float()

    @torch.no_grad()
    def decode(self, z_hat: torch.Tensor, precision: str = "fp32") -> torch.Tensor:
        """Received latent [B, 2k] -> reconstructions [B,C,H,W]."""
        with inference_autocast(precision):
            return self.transceiver.decoder(z_hat.float()).float()

    @torch.no_grad()
    def classify(self, images: torch.Tensor, precision: str = "fp32") -> torch.Tensor:
        if self.classifier is None:
            raise BundleError(f"bundle {self.path} has no classifier")
        with inference_autocast(precision):
            return self.classifier(images.float()).float()

    def default_noise_var(self) -> float:
        """Noise variance used when none is fed back: the middle of the training SNR range."""
        snrs = self.card.get("train_snr_db") or [10.0, 10.0]
        return noise_var_from_snr_db((float(snrs[0]) + float(snrs[-1])) / 2)

    # --- framed transmission: symbols + side information per image ---------------------------------------
    @torch.no_grad()
    def transmit(self, images: torch.Tensor, noise_var: float | None = None, quant_bits: int = -1,
                 adaptive: bool = True, precision: str = "fp32") -> list[tuple[np.ndarray, SideInfo]]:
        """Images [B,C,H,W] -> one (payload complex64 [end], SideInfo) per image.

        ``noise_var`` (per complex symbol) drives the A-MIJSCC mask (default: :meth:`default_noise_var`);
        ``quant_bits`` as for :meth:`link`; ``adaptive=False`` sends all k symbols.
        """
        link = self.link(quant_bits)
        nv = None
        if adaptive and self.adaptive:
            nv = self.default_noise_var() if noise_var is None else float(noise_var)
            if not (math.isfinite(nv) and nv >= 0):
                raise ValueError(f"noise variance must be finite and >= 0, got {noise_var}")
        return frames_of(link.send(self.encode(images, precision), nv, adaptive))

    @torch.no_grad()
    def receive(self, frames, quant_bits: int = -1, precision: str = "fp32") -> tuple[np.ndarray, np.ndarray]:
        """(payload [end], SideInfo) per image -> (reconstructions float32 [B,C,H,W], classes int64 [B]).

        The class comes from the latent classifier when the bundle has one, else from the image
        classifier on the reconstruction. Raises ValueError for side information that contradicts the
        bundle or a payload whose length is not ``end``."""
        link = self.link(quant_bits)
        y, side = batch_of(frames, self.k, link.q)
        z_hat = link.recover(y, side)
        x_hat = self.decode(z_hat, precision)
        if self.latent_classifier is not None:
            with inference_autocast(precision):
                pred = self.latent_classifier(z_hat).argmax(1)
        else:
            pred = self.classify(x_hat, precision).argmax(1)
        return x_hat.float().numpy(), pred.numpy().astype(np.int64)


def symbol_power_of(card: dict, path, q: int | None) -> list[float] | float | None:
    """The raw power profile of the bundle's q-bit symbols from its card (None for analog symbols).

    A bundle written before the card carried it gets 1.0, the constellation's power under uniform use, with
    a warning: its quantised symbols then go out below unit power, as they were trained."""
    if q is None:
        return None
    powers = card.get("symbol_power")
    if not isinstance(powers, dict) or str(q) not in powers:
        warnings.warn(f"bundle {path}: its card has no symbol_power for {q}-bit symbols; they are sent "
                      "unscaled, below unit power (`semcom bundle calibrate` measures it)", stacklevel=3)
        return 1.0
    value = powers[str(q)]
    try:
        profile = [float(v) for v in (value if isinstance(value, list) else [value])]
    except (TypeError, ValueError):
        profile = []
    if not profile or not all(math.isfinite(v) and v > 0 for v in profile) or len(profile) not in (1, int(card["k"])):
        raise BundleError(f"bundle {path}: symbol_power for {q} bits must be one positive number or {card['k']} "
                          f"(one per symbol), got {value!r}")
    return profile


def save_bundle(path: str | Path, transceiver: Transceiver, card: dict, classifier: nn.Module | None = None,
                classifier_spec: dict | None = None, extra: dict | None = None,
                calibration_images: torch.Tensor | None = None) -> Path:
    """Write an image-family bundle; ``card`` supplies method, dataset, metrics, command and the like.
    ``extra`` maps names of :data:`EXTRA_PARTS` to ``(module, spec)``. ``calibration_images`` (training
    images, a few thousand) measure the card's ``symbol_power``; without them the card keeps the one it has."""
    extra = dict(extra or {})
    unknown = set(extra) - set(EXTRA_PARTS)
    if unknown:
        raise ValueError(f"unknown bundle parts {sorted(unknown)}; known: {', '.join(EXTRA_PARTS)}")
    enc = transceiver.encoder_spec
    n = math.prod(enc["image_shape"])
    full = {"k": transceiver.k, "n": n, "ratio": transceiver.k / n, "q": transceiver.q,
            "image_shape": list(enc["image_shape"]),
            "architecture": {"encoder": transceiver.encoder_spec, "decoder": transceiver.decoder_spec,
                             "classifier": classifier_spec if classifier is not None else None,
                             **{name: spec for name, (_module, spec) in extra.items()}},
            **card}
    if calibration_images is not None:   # an A-MIJSCC mask's positions: where it sends them in training
        full["symbol_power"] = symbol_powers(transceiver, calibration_images, full.get("train_snr_db"))
    parts = {"encoder": transceiver.encoder, "decoder": transceiver.decoder,
             **({"classifier": classifier} if classifier is not None else {}),
             **{name: module for name, (module, _spec) in extra.items()}}
    return write_bundle(path, "image", full, parts)


def _build(spec: dict, name: str, path: Path) -> nn.Module:
    try:
        return build_model(spec)
    except (ValueError, KeyError, TypeError) as err:
        raise BundleError(f"bundle {path}: cannot build its {name} from the card ({err})") from err


def load_bundle(path: str | Path, method: str | None = None) -> Bundle:
    """Load an image-family bundle; with ``method``, refuse one made by another method (BundleError)."""
    path = Path(path)
    card, tensors, _files = read_bundle(path, "image", _REQUIRED)
    if method is not None and card["method"] != method:
        raise BundleError(f"bundle {path} holds a {card['method']!r} transceiver, not {method!r}")
    arch = card["architecture"]
    try:
        transceiver = Transceiver(arch["encoder"], arch["decoder"], int(card["k"]), card["q"],
                                  symbol_power=symbol_power_of(card, path, card["q"]))
    except (ValueError, KeyError, TypeError) as err:
        raise BundleError(f"bundle {path}: cannot build the networks its card describes ({err})") from err
    if transceiver.encoder_spec.get("k") != card["k"] or list(arch["encoder"]["image_shape"]) != list(card["image_shape"]):
        raise BundleError(f"bundle {path}: card k/image_shape contradict the encoder spec")
    modules = {"encoder": transceiver.encoder, "decoder": transceiver.decoder}
    for name in ("classifier", *EXTRA_PARTS):
        if arch.get(name):
            modules[name] = _build(arch[name], name, path)
    for name, module in modules.items():
        if name not in tensors:
            raise BundleError(f"bundle {path}: its card names a {name} but the weights have none")
        load_part(module, tensors[name], name, path).eval()
    transceiver.mask = modules.get("adaptive_mask")
    return Bundle(path=path, card=card, transceiver=transceiver.eval(), classifier=modules.get("classifier"),
                  latent_classifier=modules.get("latent_classifier"))


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
    images = torch.rand(256, *image_shape)   # stands in for training images when measuring symbol power
    return save_bundle(path, Transceiver(enc, dec, k, q), card, build_model(classifier_spec), classifier_spec, extra,
                       calibration_images=images)
