#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Image source: dataset items as PDUs."""

from __future__ import annotations

import os

import numpy as np
import pmt
from gnuradio import gr

from .base.bundles import load_bundle, resolve_bundle_path
from .base.emitter import EmittingSource
from .base.pdu import make_pdu


class image_source(EmittingSource, gr.basic_block):
    """Emit dataset images as PDUs on the ``pdu`` message port.

    Each PDU is ``cons(meta, f32vector)`` with ``meta = {index, label, shape}``
    and the ``C*H*W`` pixel values in [0, 1] (row-major, channel first).

    Args:
        source: a bundle directory (its card names the dataset) or a dataset
            name (``"fashion-mnist"``, ``"cifar10"``).
        split: ``"train"`` or ``"test"``.
        num_images: how many images to emit (clipped to the split's size).
        start_index: index of the first image.
        interval_ms: pause between images; 0 emits as fast as possible.
        root: dataset folder (default: the bundle card's, else the loader's default).

    The images are emitted once from a thread started in ``start()``; the
    block then stays idle (PDU flowgraphs do not finish by themselves) until
    ``stop()``. ``emitted()`` and ``finished()`` report progress.
    """

    def __init__(self, source="fashion-mnist", split="test", num_images=100, start_index=0,
                 interval_ms=0.0, root=""):
        gr.basic_block.__init__(self, name="semcom_image_source", in_sig=None, out_sig=None)
        self.message_port_register_out(pmt.intern("pdu"))
        from semcom_core.data import load_dataset

        source = str(source)
        data_root = str(root) if root else None
        if os.path.isdir(resolve_bundle_path(source)):
            name, card_root = load_bundle(source).dataset()
            data_root = data_root or card_root
        else:
            name = source
        self.dataset_name = name
        ds = load_dataset(name, split=str(split), root=data_root)
        start_index = int(start_index)
        if start_index < 0 or start_index >= len(ds):
            raise ValueError(f"start_index {start_index} outside the {len(ds)} images of {name}/{split}")
        stop_index = min(len(ds), start_index + max(0, int(num_images)))
        self._indices = np.arange(start_index, stop_index)
        self._images = ds.images[start_index:stop_index].numpy()   # uint8 [N,C,H,W]
        self._labels = ds.labels[start_index:stop_index].numpy()
        self.image_shape = [int(x) for x in self._images.shape[1:]]
        self._port = pmt.intern("pdu")
        self.init_emitter("semcom_image_source", len(self._indices), interval_ms)

    # -- getters -----------------------------------------------------------
    def num_images(self) -> int:
        return len(self._indices)

    def image(self, i: int) -> np.ndarray:
        """The i-th emitted image as float32 [C,H,W] in [0, 1]."""
        return self._images[i].astype(np.float32) / 255.0

    def images(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indices, images float32 [N,C,H,W] in [0,1], labels) of everything this source emits."""
        return self._indices.copy(), self._images.astype(np.float32) / 255.0, self._labels.copy()

    def publish(self, i: int) -> None:
        meta = {"index": int(self._indices[i]), "label": int(self._labels[i]), "shape": self.image_shape}
        pixels = self._images[i].reshape(-1).astype(np.float32) * np.float32(1.0 / 255.0)
        self.message_port_pub(self._port, make_pdu(meta, pixels))
