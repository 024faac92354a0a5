"""Notes for the sites a run recorded (inject/porttool_pin_memory.py): each says what failed at
that line and what `porttool rewrite --target T` really does with it.

A note never promises a fix the rewrite does not make: the file is scanned as `porttool scan`
scans it (suppressions included), the call at the recorded line is found, and the finding of the
rule that covers it -- or its absence, and why -- decides the wording.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from porttool.model import Finding, FixStatus

PIN_FAILED = "the mock has no pinned-memory allocator for neuron, and TorchNeuron's is unconfirmed"
_RULE = {"pin-memory-call": "PT402", "pin-memory-dataloader": "PT401"}


@dataclass(frozen=True)
class _Call:
    node: ast.Call | None
    argument: str | None  # the source of a `pin_memory=` keyword, if the call has one


def site_notes(sites: Sequence[tuple[str, str, int]], target: str | None) -> list[str]:
    """One note per recorded (kind, file, line)."""
    scans: dict[str, tuple[list[Finding], ast.AST | None]] = {}
    notes = []
    for kind, file, line in sites:
        if kind.startswith("pin-memory"):
            notes.append(_pin_note(kind, file, line, target, scans))
    return notes


def _pin_note(kind: str, file: str, line: int, target: str | None,
              scans: dict[str, tuple[list[Finding], ast.AST | None]]) -> str:
    where = f"{file}:{line}" if line else file
    if kind == "pin-memory-call":
        head = f"`.pin_memory()` at {where} failed"
    elif kind == "pin-memory-dataloader":
        head = f"the DataLoader made at {where} pins its batches (pin_memory), which failed"
    elif kind == "pin-memory-dataloader-library":
        return (f"a DataLoader made by library code (called from {where}) pins its batches, which "
                f"failed: {PIN_FAILED}; porttool does not rewrite library code: turn pinning off "
                "where the library is configured")
    else:
        return (f"pinned host memory was requested (innermost line of your code: {where}) and failed: "
                f"{PIN_FAILED}")
    code = _RULE[kind]
    if target is None:
        return f"{head}: {PIN_FAILED} (`porttool scan` shows what {code} does here)"
    if file not in scans:
        scans[file] = _scan(file, target)
    findings, tree = scans[file]
    if tree is None:
        return f"{head}: {PIN_FAILED} ({code} covers such lines; porttool cannot read {file} to say what it does there)"
    call = _call_at(tree, line, kind)
    lines = (call.node.lineno, call.node.end_lineno or call.node.lineno) if call.node else (line, line)
    found = [f for f in findings if f.code == code and lines[0] <= f.span.line <= lines[1]]
    return f"{head}: {PIN_FAILED}; {_what_rewrite_does(code, found, call, file, target)}"


def _what_rewrite_does(code: str, found: list[Finding], call: _Call, file: str, target: str) -> str:
    if found:
        f = found[0]
        at = f"{file}:{f.span.line}"
        if f.status is FixStatus.UNSAFE:
            return f"`porttool rewrite --unsafe-fixes --target {target}` changes {at} ({code}: {f.fix_title})"
        if f.status is FixStatus.SAFE:
            return f"`porttool rewrite --target {target}` changes {at} ({code}: {f.fix_title})"
        guidance = f.guidance.strip().splitlines()[0] if f.guidance.strip() else "port it by hand"
        return f"porttool leaves {at} to you for --target {target} ({code}): {guidance}"
    from porttool.ruleset.registry import load_registry

    rule = load_registry(cache=True).by_code.get(code)
    fix = rule.fixes.get(target) if rule is not None else None
    if fix is not None and fix.action.value == "keep":
        return f"`porttool rewrite --target {target}` keeps it as it is ({code} keeps pinning for {target})"
    if code == "PT401":
        if call.argument is None:
            how = "this call does not pass it as `pin_memory=True`"
        elif call.argument == "True":
            how = f"`porttool scan` reports no {code} here (a suppression comment?)"
        else:
            how = f"here it is `pin_memory={call.argument}`"
        return (f"`porttool rewrite` does not change it ({code} rewrites only a literal "
                f"`pin_memory=True`; {how}): pass `pin_memory=False` on {target}")
    return (f"`porttool rewrite` does not change it (`porttool scan` reports no {code} at this "
            "line): drop the `.pin_memory()` call on this target")


def _scan(file: str, target: str) -> tuple[list[Finding], ast.AST | None]:
    from porttool.ruleset.registry import load_registry
    from porttool.scan.discovery import Candidate
    from porttool.scan.run import ScanOptions, scan_one

    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8")
        tree: ast.AST | None = ast.parse(text)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return [], None
    result = scan_one(Candidate(path, True), ScanOptions(load_registry(cache=True), target, str(path.parent)))
    return list(result.findings), tree


def _call_at(tree: ast.AST | None, line: int, kind: str) -> _Call:
    """The innermost call spanning `line` that does what `kind` says (a `pin_memory=` keyword, or
    a `.pin_memory()`); else the innermost call spanning it."""
    if tree is None:
        return _Call(None, None)
    spanning = [n for n in ast.walk(tree)
                if isinstance(n, ast.Call) and n.lineno <= line <= (n.end_lineno or n.lineno)]
    if not spanning:
        return _Call(None, None)

    def fits(n: ast.Call) -> bool:
        if kind == "pin-memory-call":
            return isinstance(n.func, ast.Attribute) and n.func.attr == "pin_memory"
        return any(k.arg == "pin_memory" for k in n.keywords)

    innermost = sorted(spanning, key=lambda n: ((n.end_lineno or n.lineno) - n.lineno, -n.lineno, -n.col_offset))
    node = next((n for n in innermost if fits(n)), innermost[0])
    argument = next((ast.unparse(k.value) for k in node.keywords if k.arg == "pin_memory"), None)
    return _Call(node, argument)
