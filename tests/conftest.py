"""Shared fixtures: the shipped bundle and small data files written in the real formats."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED_BUNDLE = REPO / "bundles" / "deepjscc-fmnist-1_12"


@pytest.fixture(scope="session")
def shipped_bundle_path() -> Path:
    if not (SHIPPED_BUNDLE / "card.json").is_file():
        pytest.fail(f"the shipped bundle {SHIPPED_BUNDLE} is missing; rebuild it with scripts/make_bundle.sh")
    return SHIPPED_BUNDLE


@pytest.fixture(scope="session")
def untrained_bundle_path(tmp_path_factory) -> Path:
    from semcom_core.bundles import make_untrained_bundle

    return make_untrained_bundle(tmp_path_factory.mktemp("bundle") / "untrained")
