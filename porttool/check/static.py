"""The static stage of `porttool check`: the port parses, compiles, has nothing fixable left, and
every dotted `torch.*` API it uses exists in the installed torch.

Nothing is executed: names are resolved by scope (api_names.py) and looked up on the torch module
(torch is imported here, in porttool's own process; the run stage uses the user's).
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType

from porttool.check.api_names import ApiUse, import_table_uses, needs_scope, scoped_uses
from porttool.model import Finding
from porttool.scan.discovery import Candidate
from porttool.scan.run import ScanOptions, scan_one
from porttool.scan.sources import SourceFile, read_source

@dataclass(frozen=True)
class StaticProblem:
    path: str
    line: int
    column: int
    kind: str  # "syntax", "compile", "fixable", "missing-api", "unreadable"
    message: str
    code: str = ""


@dataclass(frozen=True)
class StaticResult:
    files: int
    problems: tuple[StaticProblem, ...] = ()
    torch_version: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not self.problems


def _torch() -> ModuleType | None:
    try:
        import torch
    except ImportError:
        return None
    return torch


def api_exists(qualified: str, torch: ModuleType) -> bool:
    """True when `torch.a.b.c` resolves in this torch (importing submodules as needed)."""
    parts = qualified.split(".")
    obj: object = torch
    for i, part in enumerate(parts[1:], start=1):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        try:
            obj = importlib.import_module(".".join(parts[: i + 1]))
        except Exception:  # noqa: BLE001 - any import failure means the API is not there
            return False
    return True


def _missing(uses: list[ApiUse], torch: ModuleType, cache: dict[str, bool]) -> list[ApiUse]:
    for use in uses:
        if use.qualified not in cache:
            cache[use.qualified] = api_exists(use.qualified, torch)
    return [use for use in uses if not cache[use.qualified]]


def check_static(candidates: Sequence[Candidate], options: ScanOptions, *, unsafe: bool = True) -> StaticResult:
    torch = _torch()
    notes: list[str] = []
    if torch is None:
        notes.append("torch is not installed here: the torch API check was skipped (pip install 'porttool[check]')")
    problems: list[StaticProblem] = []
    cache: dict[str, bool] = {}
    for candidate in candidates:
        result = scan_one(candidate, options)
        for d in result.diagnostics:
            problems.append(StaticProblem(d.path, d.line, d.column, "syntax" if d.code == "PT902" else "unreadable", d.message, d.code))
        left = [f for f in result.findings if _counts_as_left(f, unsafe)]
        declined = _declined_sites(candidate, result.path, options, unsafe) if left else {}
        for f in left:
            reason = declined.get((f.code, f.span.line, f.span.column))
            if reason is not None:  # the rewrite declines this site: a human's, as `rewrite` said
                notes.append(f"{f.path}:{f.span.line}: {f.code} is left for a human: the rewrite declines it here ({reason})")
                continue
            problems.append(
                StaticProblem(f.path, f.span.line, f.span.column + 1, "fixable", f"{f.message} — still fixable for {options.target} ({f.status.value})", f.code)
            )
        if result.diagnostics or not candidate.path.name.endswith((".py", ".pyi")):
            continue
        source = read_source(candidate.path, result.path)
        if not isinstance(source, SourceFile):
            continue
        try:
            tree = ast.parse(source.text, filename=result.path)
        except (SyntaxError, ValueError) as exc:
            # the scanner skips parsing files that mention nothing it matches: report it the same way
            line, col = getattr(exc, "lineno", None) or 1, getattr(exc, "offset", None) or 1
            msg = getattr(exc, "msg", None) or str(exc)
            problems.append(StaticProblem(result.path, line, max(col, 1), "syntax", f"syntax error at line {line}: {msg}", "PT902"))
            continue
        try:
            compile(tree, result.path, "exec")
        except (SyntaxError, ValueError) as exc:
            problems.append(StaticProblem(result.path, getattr(exc, "lineno", None) or 1, getattr(exc, "offset", None) or 1, "compile", f"does not compile: {getattr(exc, 'msg', None) or exc}"))
            continue
        if torch is None:
            continue
        missing = _missing(import_table_uses(tree), torch, cache)
        if missing and needs_scope(tree, missing):  # a local, parameter or attribute may shadow the import
            try:
                missing = _missing(scoped_uses(source.text), torch, cache)
            except Exception as exc:  # noqa: BLE001 - libcst's parser is stricter than ast's
                notes.append(f"{result.path}: names were resolved by imports alone, not by scope "
                             f"(libcst could not parse the file: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
        for use in missing:
            problems.append(
                StaticProblem(result.path, use.line, use.column, "missing-api",
                              f"`{use.qualified}` does not exist in the installed torch {torch.__version__}")
            )
    problems.sort(key=lambda p: (p.path, p.line, p.column, p.kind))
    return StaticResult(len(candidates), tuple(problems), getattr(torch, "__version__", None), tuple(notes))


def _declined_sites(candidate: Candidate, display: str, options: ScanOptions, unsafe: bool) -> dict[tuple[str, int, int], str]:
    """(code, line, column) → why `porttool rewrite` declines that site in this file: its rule has
    a fix for the target, but not one that applies here (`set_default_tensor_type(<computed>)`),
    so the site is not "still fixable" — the rewrite already said it needs a person."""
    from porttool.rewrite.run import port_text

    source = read_source(candidate.path, display)
    if not isinstance(source, SourceFile):
        return {}
    result = port_text(source.text, options.registry, options.target, unsafe=unsafe)
    return {(site.code, site.span.line, site.span.column): reason for site, reason in result.declined}


def _counts_as_left(finding: Finding, unsafe: bool) -> bool:
    if finding.status.value == "safe":
        return True
    return unsafe and finding.status.value == "unsafe"
