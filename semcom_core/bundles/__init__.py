"""Exported models: one bundle format (:mod:`.format`) for every method, with per-family parts.

- :mod:`.image`: the DeepJSCC family and MIJSCC (:class:`Bundle`: transmit / receive through the link);
- :mod:`.multimodal`: the multi-modal devices and server;
- :mod:`.mfmsc`: the multi-task MFMSC systems;
- :mod:`.evaluate`: image bundles over a channel and SNRs, as result records;
- :mod:`.precision`: the networks' inference precision (float32, or bfloat16 where the CPU has it).
"""

from .format import BUNDLE_FORMAT, BundleError, load_part, read_bundle, read_card, upgrade_bundle, write_bundle, write_card
from .image import EXTRA_PARTS, Bundle, load_bundle, make_untrained_bundle, save_bundle

__all__ = ["BUNDLE_FORMAT", "EXTRA_PARTS", "Bundle", "BundleError", "load_bundle", "load_part", "make_untrained_bundle",
           "read_bundle", "read_card", "save_bundle", "upgrade_bundle", "write_bundle", "write_card"]
