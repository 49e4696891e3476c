"""JSON Schema of every v1 message, exported to ``protocols/schema/`` and committed.

``python -m protocols schema`` rewrites the files; ``python -m protocols schema --check`` exits 1
when the models and the committed files differ (the contract test runs the same comparison).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from protocols.messages import ALL_MESSAGES

SCHEMA_DIR = Path(__file__).with_name("schema")
EXAMPLES_DIR = Path(__file__).with_name("examples")


def message_schemas() -> dict[str, dict[str, Any]]:
    """``{type: json_schema}`` for every message, in validation mode."""
    out: dict[str, dict[str, Any]] = {}
    for model in ALL_MESSAGES:
        type_name = model.model_fields["type"].default
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://oms.example/protocols/v1/{type_name}.schema.json"
        out[type_name] = schema
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for type_name, schema in message_schemas().items():
        path = directory / f"{type_name}.schema.json"
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def drift(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files that are missing, stale or left over."""
    expected = {f"{t}.schema.json": render(s) for t, s in message_schemas().items()}
    problems = []
    for name, text in expected.items():
        path = directory / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{name}: differs from the models")
    problems += [
        f"{p.name}: no such message"
        for p in sorted(directory.glob("*.schema.json"))
        if p.name not in expected
    ]
    return problems
