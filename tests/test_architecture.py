"""The import boundaries of ARCHITECTURE.md, as an allow-list per package."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from dataclasses import dataclass
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


def imports_of(path: Path, *, package: str | None = None) -> list[tuple[int, str]]:
    """Every module ``path`` imports, at any depth (imports inside functions count too).
    ``from cloud import api`` counts as ``cloud.api``; relative imports are resolved against
    ``package`` (the dotted package of ``path``) when given."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if package is None:
                    continue
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            elif node.module:
                module = node.module
            else:
                continue
            out.append((node.lineno, module))
            out += [(node.lineno, f"{module}.{a.name}") for a in node.names if a.name != "*"]
    return out


def files(package: str, root: Path = REPO) -> list[Path]:
    return sorted((root / package).rglob("*.py"))


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
    assert not set(bad), "\n".join(dict.fromkeys(bad))


# -- layering inside cloud/ (ARCHITECTURE.md, "Inside the cloud") -----------------------------

OUTER = ("api", "web", "entrypoints", "http")
"""Packages of ``cloud`` that are not domain modules: everything else is."""


@dataclass(frozen=True)
class Layer:
    rule: str
    applies: Callable[[tuple[str, ...]], bool]
    """Given the file's path parts below ``cloud/``."""
    forbidden: tuple[str, ...]


LAYERS = (
    Layer(
        "domain modules never import cloud.api, cloud.web or cloud.entrypoints",
        lambda parts: parts[0] not in OUTER,
        ("cloud.api", "cloud.web", "cloud.entrypoints"),
    ),
    Layer(
        "cloud.http (shared by api and web) imports neither",
        lambda parts: parts[0] == "http",
        ("cloud.api", "cloud.web", "cloud.entrypoints"),
    ),
    Layer(
        "cloud.api never imports cloud.web (nor the entry points)",
        lambda parts: parts[0] == "api",
        ("cloud.web", "cloud.entrypoints"),
    ),
    Layer(
        "cloud.web never imports cloud.api (nor the entry points)",
        lambda parts: parts[0] == "web",
        ("cloud.api", "cloud.entrypoints"),
    ),
    Layer(
        "billing reads orders; orders never import billing",
        lambda parts: parts[0] == "orders",
        ("cloud.billing",),
    ),
)


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layering_violations(root: Path) -> list[str]:
    """Every import in ``root/cloud`` that breaks one of ``LAYERS``, as ``file:line``."""
    bad: dict[tuple[str, int, str], str] = {}
    for path in files("cloud", root):
        parts = path.relative_to(root / "cloud").parts
        dotted = path.relative_to(root).with_suffix("").parts
        package = ".".join(dotted if path.name == "__init__.py" else dotted[:-1])
        package = package.removesuffix(".__init__")
        for line, module in imports_of(path, package=package):
            for layer in LAYERS:
                if layer.applies(parts) and any(_within(module, f) for f in layer.forbidden):
                    # one finding per import statement and rule (the first, shortest name)
                    key = (str(path.relative_to(root)), line, layer.rule)
                    bad.setdefault(key, f"{key[0]}:{line} imports {module} ({layer.rule})")
    return list(bad.values())


def test_layering_inside_cloud() -> None:
    bad = layering_violations(REPO)
    assert not bad, "\n".join(bad)


def test_entry_points_live_outside_the_domain() -> None:
    """``oms`` and every sub-command, the demo and the seed data are entry points, not domain
    modules: no ``cli``, ``demo`` or ``seed`` module anywhere else in the cloud."""
    for name in ("cli.py", "demo.py", "seed.py"):
        assert (REPO / "cloud" / "entrypoints" / name).exists(), name
    outside = [
        str(p.relative_to(REPO))
        for p in (REPO / "cloud").rglob("*.py")
        if "entrypoints" not in p.parts
        and (p.stem in ("demo", "seed") or p.stem == "cli" or p.stem.endswith("_cli"))
    ]
    assert outside == [], f"entry points in the domain: {outside}"


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
    assert [m for _, m in imports_of(bad)] == ["cloud.db", "edge_agent", "edge_agent.outbox"]


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize(
    ("rel", "text", "rule"),
    [
        ("cloud/orders/service.py", "from cloud.api.deps import DbSession\n", "domain"),
        ("cloud/orders/service.py", "from cloud import web\n", "domain"),
        ("cloud/db.py", "def f():\n    import cloud.entrypoints.cli\n", "domain"),
        ("cloud/customers/service.py", "from ..api import deps\n", "domain"),
        ("cloud/http/deps.py", "from cloud.web.session import x\n", "cloud.http"),
        ("cloud/api/routers/x.py", "from cloud.web import templating\n", "cloud.api never"),
        ("cloud/web/orders.py", "from cloud.api.routers import orders\n", "cloud.web never"),
        ("cloud/web/orders.py", "from cloud.entrypoints.demo import run_demo\n", "cloud.web"),
        ("cloud/orders/automation.py", "from cloud.billing.drafts import d\n", "billing"),
    ],
)
def test_the_layering_rule_catches_a_violation(
    tmp_path: Path, rel: str, text: str, rule: str
) -> None:
    root = _tree(tmp_path, {"cloud/__init__.py": "", rel: text})
    (found,) = layering_violations(root)
    assert found.startswith(f"{rel}:") and rule in found


def test_the_layering_rule_lets_allowed_imports_pass(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "cloud/__init__.py": "",
            "cloud/entrypoints/cli.py": "from cloud.api.app import build\nfrom cloud import web\n",
            "cloud/api/routers/x.py": "from cloud.http.deps import allowed\n",
            "cloud/web/orders.py": "from cloud.orders.service import get_order\n",
            "cloud/billing/drafts.py": "from cloud.orders.models import Order\n",
            "cloud/apiary.py": "import cloud.apiculture\n",
        },
    )
    assert layering_violations(root) == []
