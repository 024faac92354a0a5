"""Fixture pairs: realistic files that mix many constructs, ported for each target.

`tests/fixtures/<family>/<case>.in.py` is the source; `<case>.<target>.out.py` the expected port
(unsafe fixes on, as `--unsafe-fixes` gives). A case named `unchanged_*` must come out
byte-identical for every target (no .out files). A first line `# fixture: safe-only` ports with
safe fixes only; `# fixture: mark-unfixed` adds the TODO markers.

`pytest tests/test_fixtures.py --update-fixtures` rewrites the .out files from the current
output; review the change with `git diff` before committing it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from porttool.rewrite import run as rewrite_run
from porttool.model import TARGETS

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(p for p in FIXTURES.glob("*/*.in.py") if p.parent.name != "samples")


def _options(text: str) -> tuple[bool, bool]:
    first = text.splitlines()[0] if text else ""
    words = first.removeprefix("# fixture:").split() if first.startswith("# fixture:") else []
    return "safe-only" not in words, "mark-unfixed" in words


def _expected_path(case: Path, target: str) -> Path:
    return case.with_name(case.name.removesuffix(".in.py") + f".{target}.out.py")


def test_there_are_fixture_cases():
    assert len(CASES) >= 8
    assert any(c.name.startswith("unchanged_") for c in CASES)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name.removesuffix('.in.py')}")
def test_fixture_pair(case: Path, target: str, registry, update_fixtures: bool):
    source = case.read_text(encoding="utf-8")
    unsafe, mark = _options(source)
    result = rewrite_run.port_text(source, registry, target, unsafe=unsafe, mark_unfixed=mark)
    assert not result.rejected, f"{case.name} [{target}]: verification rejected {result.rejected}"

    if case.name.startswith("unchanged_"):
        assert result.text == source, f"{case.name} [{target}] must not change"
        assert not result.applied
        return

    expected_file = _expected_path(case, target)
    if update_fixtures:
        expected_file.write_text(result.text, encoding="utf-8")
    assert expected_file.exists(), f"missing {expected_file.name}: run pytest {__file__} --update-fixtures and review"
    assert result.text == expected_file.read_text(encoding="utf-8"), f"{case.name} [{target}] differs from {expected_file.name}"

    # the port is sound: it compiles, and a second pass changes nothing
    compile(ast.parse(result.text), str(expected_file), "exec")
    again = rewrite_run.port_text(result.text, registry, target, unsafe=unsafe, mark_unfixed=mark)
    assert again.text == result.text, f"{case.name} [{target}]: a second rewrite changes the port"
    assert not again.applied


def test_no_orphan_expectations():
    """Every .out.py belongs to an existing case (a renamed case must not leave stale files)."""
    known = {_expected_path(c, t) for c in CASES for t in TARGETS}
    outs = {p for p in FIXTURES.glob("*/*.out.py") if p.parent.name != "samples"}
    assert outs <= known, f"orphan expected files: {sorted(p.name for p in outs - known)}"
