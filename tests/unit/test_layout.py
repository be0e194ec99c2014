"""The package fences of docs/architecture.md ("What each package may depend on"), read from
the source with ``ast``: Faust and aiokafka internals only in app/streaming, a pure decision
core, a Faust-free pipeline."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "agents", "tables")
STREAMING = "app.streaming"

#: Upstream modules whose contents are internals: only app/streaming may import them.
INTERNAL = ("faust.transport", "faust.stores", "faust.tables", "mode.utils")
#: aiokafka's public API (clients, records, errors, admin, the partitioners, the assignors a
#: consumer is configured with); the rest of aiokafka is its internals.
AIOKAFKA_PUBLIC = (
    "aiokafka.abc",
    "aiokafka.admin",
    "aiokafka.errors",
    "aiokafka.structs",
    "aiokafka.partitioner",
    "aiokafka.coordinator.assignors",
)
#: Underscore names that are public API of the standard library.
STDLIB_UNDERSCORED = {"_replace", "_asdict", "_fields", "_make", "_exit"}
#: What the pure core (and the leaderboards it may score with) must not import: frameworks,
#: Kafka, databases and I/O.
IMPURE = (
    "faust",
    "mode",
    "aiokafka",
    "confluent_kafka",
    "psycopg",
    "rocksdict",
    "asyncio",
    "aiohttp",
    "socket",
    "http",
    "urllib",
    "subprocess",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {
        module_name(path): ast.parse(path.read_text(), str(path))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


MODULES = modules()


def imports(module: str, tree: ast.Module) -> Iterator[str]:
    """Every module ``tree`` imports (at any depth, lazily too), as absolute dotted names;
    ``from x import y`` yields ``x`` and ``x.y`` (y may be a module or a name in x)."""
    is_package = (ROOT / module.replace(".", "/") / "__init__.py").exists()
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def in_package(module: str, package: str) -> bool:
    return within(module, (package,))


def aiokafka_internal(name: str) -> bool:
    """An aiokafka module beyond the public API (``from aiokafka import X`` is public)."""
    if not within(name, ("aiokafka",)):
        return False
    parts = name.split(".")
    if len(parts) <= 2 and (len(parts) == 1 or parts[1][:1].isupper()):
        return False  # ``aiokafka`` itself, or a name it exports
    return not within(name, AIOKAFKA_PUBLIC)


def offenders(package: str, forbidden) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, tree in MODULES.items()
        if in_package(module, package)
        for name in set(imports(module, tree))
        if forbidden(name)
    )


def test_the_fence_is_read_from_the_tree():
    assert {"app.streaming.consumer", "app.core.engine", "agents.decide"} <= set(MODULES)
    names = set(imports("app.streaming.consumer", MODULES["app.streaming.consumer"]))
    assert "faust.transport.drivers.aiokafka" in names and "mode.utils.queues" in names
    relative = ast.parse("from .consumer import lane\nfrom .. import settings")
    assert set(imports("app.streaming.outbox", relative)) == {
        "app.streaming.consumer",
        "app.streaming.consumer.lane",
        "app",
        "app.settings",
    }
    assert aiokafka_internal("aiokafka.consumer.fetcher")
    assert not aiokafka_internal("aiokafka.AIOKafkaConsumer")
    assert not aiokafka_internal("aiokafka.partitioner.murmur2")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not in_package(m, STREAMING)))
def test_faust_and_aiokafka_internals_are_imported_only_in_app_streaming(module):
    bad = sorted(
        name
        for name in set(imports(module, MODULES[module]))
        if within(name, INTERNAL) or aiokafka_internal(name)
    )
    assert not bad, f"{module} imports upstream internals {bad}: move that code to app/streaming"


def _defined_names() -> set[str]:
    """Every name Pitboss defines or binds (functions, classes, attributes, variables,
    arguments, keywords): an underscored attribute outside this set is someone else's."""
    names: set[str] = set()
    for tree in MODULES.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg | ast.keyword) and node.arg:
                names.add(node.arg)
    return names


def test_upstream_private_attributes_are_read_only_in_app_streaming():
    ours = _defined_names() | STDLIB_UNDERSCORED
    bad = sorted(
        f"{module}:{node.lineno} {ast.unparse(node)}"
        for module, tree in MODULES.items()
        if not in_package(module, STREAMING)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and node.attr not in ours
    )
    assert not bad, f"private upstream attributes outside app/streaming: {bad}"


@pytest.mark.parametrize("package", ["app.core", "app.leaderboards"])
def test_the_core_is_pure(package):
    impure = offenders(package, lambda name: within(name, IMPURE))
    assert not impure, f"the pure core does I/O or uses a framework: {impure}"
    pitboss = offenders(
        package,
        lambda name: within(name, PACKAGES) and not within(name, ("app.core", "app.leaderboards")),
    )
    assert not pitboss, f"the pure core imports the rest of Pitboss: {pitboss}"


def test_the_pipeline_is_faust_free():
    bad = offenders(
        "app.pipeline",
        lambda name: (
            within(name, ("faust", "mode", STREAMING, "agents", "tables"))
            or (within(name, ("aiokafka",)) and not within(name, ("aiokafka.partitioner",)))
        ),
    )
    assert not bad, f"app/pipeline must run without Faust (docs/architecture.md): {bad}"
