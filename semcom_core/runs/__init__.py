"""One run system for every family of methods (image: the DeepJSCC family and MIJSCC; multimodal; mfmsc).

- :mod:`.config`: the one config loader (defaults <- YAML <- overrides) with each family's schema;
- :mod:`.folder`: the one run-folder layout (``run.json``, weights, logs) and the finished-run check;
- :mod:`.image`, :mod:`.multimodal`, :mod:`.mfmsc`: each family's recipe (what trains, in which stages);
- :mod:`.export`: a finished run as a bundle (:mod:`semcom_core.bundles`).
"""
