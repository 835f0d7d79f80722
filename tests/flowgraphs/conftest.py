"""The flowgraph tests import ``gnuradio.semcom``: the installed module, else the source tree's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

try:
    import gnuradio.semcom  # noqa: F401
except ImportError:  # gr-semcom not installed: use the source tree under the same name
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "gr-semcom" / "python"))
    import gnuradio
    import semcom

    sys.modules["gnuradio.semcom"] = semcom
    gnuradio.semcom = semcom


@pytest.fixture(scope="module")
def bundle(request) -> str:
    """The shipped bundle a test module names in its ``BUNDLE``; a missing one fails the test."""
    path = request.module.BUNDLE
    if not (path / "card.json").is_file():
        pytest.fail(f"shipped bundle {path} is missing")
    return str(path)
