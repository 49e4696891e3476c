"""The import boundaries of ARCHITECTURE.md, as an allow-list per package."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[1]
STDLIB = set(sys.stdlib_module_names)
FIRST_PARTY = {"protocols", "firmware_profiles", "edge_agent", "cloud", "tests", "bench"}

# package -> (allowed first-party roots, allowed third-party roots)
RULES: dict[str, tuple[set[str], set[str]]] = {
    "protocols": ({"protocols"}, {"pydantic"}),
    "firmware_profiles": ({"firmware_profiles"}, set()),
    "edge_agent": (
        {"edge_agent", "protocols", "firmware_profiles"},
        {"serial", "paho", "PIL", "pydantic", "pydantic_settings", "structlog"},
    ),
    "cloud": (
        {"cloud", "protocols"},
        {
            "fastapi",
            "starlette",
            "anyio",
            "uvicorn",
            "sqlalchemy",
            "alembic",
            "psycopg",
            "psycopg_pool",
            "pydantic",
            "pydantic_settings",
            "paho",
            "amqtt",
            "jinja2",
            "typer",
            "structlog",
            "multipart",
            "lxml",
            "weasyprint",
            "PIL",
            "swagger_ui_bundle",
        },
    ),
}


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def files(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_imports_only_what_it_may(package: str) -> None:
    first, third = RULES[package]
    bad = []
    for path in files(package):
        rel = path.relative_to(REPO)
        for line, module in imports_of(path):
            root = module.split(".")[0]
            if root in STDLIB or root == "__future__":
                continue
            if root in FIRST_PARTY:
                if root not in first:
                    bad.append(f"{rel}:{line} imports {module}")
            elif root not in third:
                bad.append(f"{rel}:{line} imports third-party {module}")
    assert not bad, "\n".join(bad)


def test_nothing_imports_the_api_back() -> None:
    bad = [
        f"{p.relative_to(REPO)}:{line}"
        for p in files("cloud")
        if p.relative_to(REPO / "cloud").parts[0] not in ("api", "entrypoints")
        and p.name != "cli.py"
        and p.name != "demo.py"
        for line, m in imports_of(p)
        if m.startswith("cloud.api")
    ]
    assert not bad, f"cloud domain modules import cloud.api: {bad}"


def test_orders_never_import_billing() -> None:
    bad = [
        f"{p.relative_to(REPO)}:{line}"
        for p in files("cloud/orders")
        for line, m in imports_of(p)
        if m.startswith("cloud.billing")
    ]
    assert not bad


def test_layout_exists() -> None:
    for d in (
        "protocols",
        "firmware_profiles",
        "edge_agent",
        "cloud",
        "cloud/api",
        "cloud/billing",
        "deploy",
        "bench",
        "tests",
    ):
        assert (REPO / d).is_dir(), d
    for pkg in (
        "protocols",
        "firmware_profiles",
        "edge_agent",
        "cloud",
        "cloud/api",
        "cloud/billing",
    ):
        assert (REPO / pkg / "__init__.py").exists(), pkg


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("import cloud.db\nfrom edge_agent import outbox\n")
    assert [m for _, m in imports_of(bad)] == ["cloud.db", "edge_agent"]
