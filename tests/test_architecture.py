"""The package layout is the pipeline: imports flow one way, base → ruleset → scan → rewrite →
report/check → cli, with no cycle between packages (README "Architecture")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "porttool"

# Shared base modules (no porttool imports but these) sit below every stage.
BASE = {"model", "settings", "caching", "atomic_write", "pool", "__init__"}
LAYERS = {"ruleset": 1, "scan": 2, "rewrite": 3, "report": 4, "check": 4, "cli": 5, "__main__": 6}


def _unit(module: str) -> str:
    """`porttool.scan.matcher` → `scan`; `porttool.model` → `model`; `porttool` → `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(unit: str) -> int:
    return 0 if unit in BASE else LAYERS[unit]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every porttool module `path` imports, lazily or not."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "porttool":
            if node.module == "porttool":  # `from porttool import __version__` / `from porttool import pool`
                found += [(node.lineno, "porttool" if a.name == "__version__" else f"porttool.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "porttool"]
    return found


def _sources() -> list[Path]:
    # check/inject/ runs inside the user's process and imports no porttool module by package
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "inject" not in p.relative_to(PACKAGE).parts]


def test_every_module_belongs_to_a_known_unit():
    units = {_unit("porttool." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)) for p in _sources()}
    assert units <= BASE | set(LAYERS) | {"rules"}, units - BASE - set(LAYERS)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_one_way(path):
    me = _unit("porttool." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    wrong = []
    for line, module in _imports(path):
        other = _unit(module)
        if other == me:
            continue
        if me in BASE:
            # base modules may use each other (settings → model), never a stage
            if other not in BASE:
                wrong.append(f"line {line}: {module} (a base module importing a stage)")
        elif _layer(other) >= _layer(me):
            wrong.append(f"line {line}: {module} ({other} is not below {me})")
    assert not wrong, f"{path.relative_to(PACKAGE)} imports against the flow: " + "; ".join(wrong)


def test_the_checker_sees_a_backward_import(tmp_path):
    """The test above can fail: a scan module importing the rewrite is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from porttool.rewrite.run import port_text\n", encoding="utf-8")
    (line, module), = _imports(bad)
    assert _layer(_unit(module)) > _layer("scan")
