"""Fixtures for the firmware profile tests.

The protocol test vectors live outside the repo, in the shared reference folder:
``$OMS_SHARED_DIR/reference/vectors`` (default ``<repo>/../shared``). Without them the vector
tests skip, except in CI (``CI=true``), where a missing folder is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.firmware_profiles.support import shared_vectors_dir


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    path = shared_vectors_dir()
    if not path.is_dir():
        reason = f"protocol test vectors not found at {path} (set OMS_SHARED_DIR)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path
