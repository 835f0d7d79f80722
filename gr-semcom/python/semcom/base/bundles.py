#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Bundles for blocks: paths that work from any folder, and one loaded copy per process."""

from __future__ import annotations

import os
import threading

_bundle_cache: dict = {}
_bundle_lock = threading.Lock()


def resolve_bundle_path(path) -> str:
    """``path`` itself, or for a relative path that does not exist here, the same
    path under the folder holding ``semcom_core`` (the repository root), so that
    flowgraphs naming ``bundles/...`` work from any working directory."""
    path = os.fspath(path)
    if os.path.exists(path) or os.path.isabs(path):
        return path
    try:
        import semcom_core

        candidate = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(semcom_core.__file__))), path)
    except ImportError:
        return path
    return candidate if os.path.exists(candidate) else path


def resolve_precision(precision) -> str:
    """"fp32" or "bf16" for a block's ``precision`` parameter ("auto": bf16 where the CPU computes it natively);
    ValueError for anything else."""
    from semcom_core.bundles.precision import resolve_precision as _resolve

    return _resolve(precision)


def load_bundle(path):
    """Load a model bundle, shared between the blocks of one process.

    Blocks of one flowgraph (transmitter, receiver, metrics sink, image source)
    usually name the same bundle; it is read once. The cache key includes the
    modification time of ``card.json`` so a rewritten bundle is read again.

    Raises ``semcom_core.bundles.BundleError`` (a clear message) on a bad path.
    """
    from semcom_core.bundles import BundleError
    from semcom_core.bundles import load_bundle as _load

    if not str(path).strip():
        raise BundleError("no model bundle given (the bundle path is empty)")
    real = os.path.realpath(resolve_bundle_path(path))
    card = os.path.join(real, "card.json")
    try:
        stamp = (os.stat(card).st_mtime_ns, os.stat(os.path.join(real, "weights.safetensors")).st_mtime_ns)
    except OSError:
        stamp = None
    key = (real, stamp)
    with _bundle_lock:
        if stamp is not None and key in _bundle_cache:
            return _bundle_cache[key]
        bundle = _load(real)
        if stamp is not None:
            _bundle_cache[key] = bundle
        return bundle


_family_cache: dict = {}


def _load_cached(path, family: str, load):
    """``load(real path)`` once per process and bundle version (the weights' modification time)."""
    from semcom_core.bundles import BundleError

    if not str(path).strip():
        raise BundleError("no model bundle given (the bundle path is empty)")
    real = os.path.realpath(resolve_bundle_path(path))
    try:
        stamp = os.stat(os.path.join(real, "weights.safetensors")).st_mtime_ns
    except OSError:
        stamp = None
    with _bundle_lock:
        key = (family, real, stamp)
        if stamp is None or key not in _family_cache:
            loaded = load(real)
            if stamp is None:
                return loaded
            _family_cache[key] = loaded
        return _family_cache[key]


def load_multimodal(path):
    """A multi-modal (device / server) bundle: ``(system, card)``, read once per process like
    :func:`load_bundle`; ``semcom_core.bundles.BundleError`` on a bad path or card."""
    from semcom_core.bundles.multimodal import load_multimodal_bundle

    return _load_cached(path, "multimodal", load_multimodal_bundle)


def load_mfmsc(path):
    """An MFMSC bundle as ``(semcom_core.link.multitask.TaskLink, card)``, read once per process;
    ``semcom_core.bundles.BundleError`` on a bad path or card."""
    from semcom_core.bundles.mfmsc import load_mfmsc_bundle
    from semcom_core.link.multitask import TaskLink
    from semcom_core.symbols.bundle_id import bundle_id

    def load(real):
        system, card, tokenizer = load_mfmsc_bundle(real)
        return TaskLink(system, tokenizer, card.get("geometry"), bundle_id(card)), card

    return _load_cached(path, "mfmsc", load)
