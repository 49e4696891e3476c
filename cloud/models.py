"""Imports every ``cloud.<domain>.models`` module so that ``Base.metadata`` is complete
(Alembic, tests). A new domain's models are found without editing this file."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from cloud.db import Base

for _info in pkgutil.iter_modules([str(Path(__file__).parent)]):
    if _info.ispkg and (Path(__file__).parent / _info.name / "models.py").exists():
        importlib.import_module(f"cloud.{_info.name}.models")

__all__ = ["Base"]
