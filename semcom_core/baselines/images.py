"""Evaluate digital image links and the capacity bound like the semantic methods are evaluated.

The same test images, channel, SNR, channel uses and downstream classifier as
:func:`semcom_core.bundles.evaluate.evaluate_models`; the metrics dict has
the same keys plus what only a digital link has (delivered fraction, counters,
mean bits sent).

Lost images (infeasible, failed parity checks, undecodable bytes) are replaced
by :func:`lost_image`, the training set's mean image: the best a receiver
without data can show. Their PSNR is that of the mean image, and the
classifier sees the mean image, so accuracy falls towards chance, which is how
the papers draw the cliff of the digital curves.
"""

from __future__ import annotations

import collections
import threading

import numpy as np
import torch
from tqdm import tqdm

from ..data import load_dataset
from ..metrics import psnr, ssim
from .capacity import capacity_budgets, choose_at_capacity
from .link import DigitalLink
from .source.base import Encoded, SourceCodec, SourceDecodeError

__all__ = ["LADDERS", "ImageLadders", "LadderCache", "lost_image", "image_metrics", "evaluate_link", "evaluate_capacity"]


def lost_image(dataset: str, root=None) -> torch.Tensor:
    """The mean training image ``[C, H, W]`` in [0, 1], shown in place of a lost image."""
    data = load_dataset(dataset, "train", root=root)
    return data.images.double().mean(dim=0).div(255.0).float()


class LadderCache:
    """Every source encoding of an image (``SourceCodec.ladder``), computed once per process.

    A sweep, or a flowgraph that sends the same images again (another SNR, another code), picks a rung
    for its budget without encoding them again. Keyed by codec name and pixels; holds at most
    ``max_items`` images (the least recently used dropped first). Thread-safe.
    """

    def __init__(self, max_items: int = 4096):
        self.max_items = int(max_items)
        self._items: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()

    def ladder(self, codec: SourceCodec, image: np.ndarray) -> list[Encoded]:
        key = (getattr(codec, "name", type(codec).__name__), image.shape, image.tobytes())
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        ladder = codec.ladder(image)
        with self._lock:
            self._items[key] = ladder
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return ladder

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


#: The ladders shared by everything in this process that source-codes images.
LADDERS = LadderCache()


class ImageLadders:
    """Every candidate encoding of each test image (through :data:`LADDERS`), shared by all points.

    Decoded reconstructions are cached by payload bytes, so each distinct
    bitstream is source-decoded once for the whole sweep.
    """

    def __init__(self, codec: SourceCodec, images: torch.Tensor, progress: bool = True):
        self.codec = codec
        self.images = images
        self.ladders: list[list[Encoded]] = [
            LADDERS.ladder(codec, img.numpy()) for img in tqdm(images.cpu(), desc=f"{codec.name} ladders",
                                                               disable=not progress, unit="img")]
        self.cache: dict = {}
        self.scores: dict = {}   # (index, received image) -> (psnr, ssim, predicted class)

    def decode(self, encoded: Encoded | None):
        """The image an error-free transmission of ``encoded`` gives (None for None)."""
        if encoded is None:
            return None
        key = bytes(encoded.payload)
        if key not in self.cache:
            try:
                self.cache[key] = self.codec.decode(key, encoded.meta)
            except SourceDecodeError as err:
                self.cache[key] = err
        item = self.cache[key]
        return None if isinstance(item, SourceDecodeError) else item


@torch.no_grad()
def image_metrics(images: torch.Tensor, labels: torch.Tensor, received: list, fallback: torch.Tensor,
                  classifier=None, batch_size: int = 500, cache: dict | None = None) -> dict:
    """PSNR/SSIM/accuracy of received images (None entries replaced by ``fallback``).

    ``cache`` keeps each (image index, received image) pair's scores, so a sweep
    that receives the same image at many points scores it once.
    """
    cache = {} if cache is None else cache
    keys = [(i, None if r is None else np.asarray(r, dtype=np.float32).tobytes()) for i, r in enumerate(received)]
    todo = [i for i, key in enumerate(keys) if key not in cache]
    for start in range(0, len(todo), batch_size):
        idx = todo[start:start + batch_size]
        x_hat = torch.stack([fallback if received[i] is None else torch.as_tensor(np.asarray(received[i]),
                                                                                  dtype=torch.float32)
                             for i in idx]).clamp(0.0, 1.0).to(images.device)
        x = images[idx]
        p, s = psnr(x_hat, x).cpu(), ssim(x_hat, x).cpu()
        pred = classifier(x_hat).argmax(1).cpu() if classifier is not None else torch.full((len(idx),), -1)
        for j, i in enumerate(idx):
            cache[keys[i]] = (p[j].item(), s[j].item(), int(pred[j]))
    scores = np.array([cache[key] for key in keys], dtype=np.float64).reshape(-1, 3)
    correct = scores[:, 2] == labels.cpu().numpy()
    return {"psnr": float(scores[:, 0].mean()), "psnr_std": float(scores[:, 0].std(ddof=1)) if len(keys) > 1 else 0.0,
            "ssim": float(scores[:, 1].mean()), "accuracy": float(correct.mean()) if classifier is not None else None,
            "delivered": float(np.mean([r is not None for r in received]))}


def evaluate_link(link: DigitalLink, ladders: ImageLadders, labels: torch.Tensor, fallback: torch.Tensor,
                  classifier, channel, snr_db: float, channel_uses: int,
                  generator: torch.Generator | None = None) -> dict:
    """One point of a practical link: metrics plus its counters and mean bits per image."""
    plan = link.plan(channel_uses)
    encoded = link.choose(ladders.ladders, plan)
    received, stats = link.send(encoded, channel, snr_db, channel_uses, generator, cache=ladders.cache)
    metrics = image_metrics(ladders.images, labels, received, fallback, classifier, cache=ladders.scores)
    bits = [e.bits for e in encoded if e is not None]
    return {**metrics, **{f"n_{k}": v for k, v in stats.as_dict().items()},
            "bits": float(np.mean(bits)) if bits else 0.0, "symbols": plan.symbols}


def evaluate_capacity(ladders: ImageLadders, labels: torch.Tensor, fallback: torch.Tensor, classifier, channel,
                      snr_db: float, channel_uses: int, generator: torch.Generator | None = None) -> dict:
    """One point of BPG + capacity: each image at the best quality its frame's capacity carries."""
    budgets = capacity_budgets(channel, len(ladders.ladders), channel_uses, snr_db, generator)
    encoded = choose_at_capacity(ladders.ladders, budgets)
    received = [ladders.decode(e) for e in encoded]
    metrics = image_metrics(ladders.images, labels, received, fallback, classifier, cache=ladders.scores)
    bits = [e.bits for e in encoded if e is not None]
    return {**metrics, "n_sent": len(encoded), "n_infeasible": sum(e is None for e in encoded),
            "n_delivered": sum(r is not None for r in received),
            "bits": float(np.mean(bits)) if bits else 0.0, "symbols": channel_uses}
