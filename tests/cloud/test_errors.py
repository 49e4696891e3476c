"""Every AppError subclass maps to a deliberate 4xx (Polar once shipped one at 500)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import cloud
from cloud.errors import AppError

pytestmark = pytest.mark.unit


def _all_subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out.add(sub)
        out |= _all_subclasses(sub)
    return out


def test_no_app_error_is_left_at_500() -> None:
    for mod in pkgutil.walk_packages(cloud.__path__, "cloud."):
        if ".migrations.versions" in mod.name or mod.name.endswith("env"):
            continue
        importlib.import_module(mod.name)
    subclasses = _all_subclasses(AppError)
    assert len(subclasses) >= 10
    at_500 = sorted(c.__qualname__ for c in subclasses if c.status_code >= 500)
    assert not at_500, f"AppError subclasses without a 4xx status: {at_500}"
    assert all(400 <= c.status_code < 500 for c in subclasses)


def test_http_errors_are_named_after_their_status() -> None:
    """404 and 405 from the framework render like our own errors, with a readable name."""
    from cloud.api.errors import _http_error_name

    assert _http_error_name(404) == "NotFound"
    assert _http_error_name(405) == "MethodNotAllowed"
    assert _http_error_name(599) == "HTTPException"
