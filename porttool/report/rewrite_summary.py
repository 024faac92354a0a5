"""Render what `porttool rewrite` did: the diff (stdout), a JSON record, the summary (stderr)."""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from porttool import __version__
from porttool.model import FileResult, FixStatus
from porttool.scan.verdicts import BRANCH_NOTE, GATE_NOTE


def render_diff(results: Sequence[FileResult], stream: TextIO) -> None:
    text = "".join(unified_diff(r) for r in results)
    if not text:
        return
    if stream.isatty():
        from rich.console import Console
        from rich.syntax import Syntax

        Console(file=stream).print(Syntax(text, "diff", theme="ansi_dark", background_color="default"))
    else:
        stream.write(text)


def _tally(results: Sequence[FileResult]) -> dict[str, Counter[str]]:
    tally: dict[str, Counter[str]] = {"fixed": Counter(), "held_back": Counter(), "manual": Counter(), "declined": Counter()}
    for r in results:
        applied = {(f.code, f.span) for f in r.applied}
        held = {(f.code, f.span) for f in r.held_back}
        tally["fixed"].update(f.code for f in r.applied)
        tally["held_back"].update(f.code for f in r.held_back)
        for f in r.findings:
            key = (f.code, f.span)
            if key in applied or key in held:
                continue
            if f.status is FixStatus.MANUAL:
                tally["manual"][f.code] += 1
            elif f.fixable and r.rewritten is not None:
                tally["declined"][f.code] += 1
    return tally


def render_summary(
    results: Sequence[FileResult],
    target: str,
    unsafe: bool,
    stream: TextIO,
    *,
    applied: bool,
    out_dir: Path | None,
    failures: Sequence[tuple[str, str]],
) -> None:
    tally = _tally(results)
    changed = [r for r in results if r.changed]
    fixed, held, manual, declined = (sum(tally[k].values()) for k in ("fixed", "held_back", "manual", "declined"))
    gates = Counter(f.code for r in results for f in r.findings if f.status is FixStatus.NONE and f"({GATE_NOTE}" in f.message)
    guards = Counter(f.code for r in results for f in r.findings if f.status is FixStatus.MANUAL and BRANCH_NOTE in f.message)
    verb = "ported in place" if applied else (f"written to {out_dir}" if out_dir else "would change (diff above; --apply to write)")
    written = len(changed) - len(failures) if applied or out_dir else len(changed)  # a failed write is not a port
    lines = [f"porttool rewrite --target {target}: {written} of {len(results)} files {verb}"]
    lines.append(f"  fixed: {fixed}" + (f" ({_codes(tally['fixed'])})" if fixed else ""))
    if held:
        lines.append(f"  held back (unsafe; use --unsafe-fixes): {held} ({_codes(tally['held_back'])})")
    if manual:
        lines.append(f"  left for a human (manual): {manual} ({_codes(tally['manual'])}); `porttool scan` lists them")
    if guards:
        lines.append(f"    of which guards left testing for CUDA: {sum(guards.values())} ({_codes(guards)}); the code each guards is still CUDA-only, port it first")
    if gates:
        lines.append(f"  capability gates left testing for CUDA (a CUDA-only feature stays off): {sum(gates.values())} ({_codes(gates)}); `porttool scan` lists them")
    if declined:
        lines.append(f"  not fixable at this site: {declined} ({_codes(tally['declined'])})")
    for r in results:
        for d in r.diagnostics:
            lines.append(f"  {d.path}: {d.code} {d.message}")
    for path, error in failures:
        lines.append(f"  {path}: not written: {error}")
    if not unsafe and held:
        lines.append("  unsafe fixes change behaviour; `porttool explain CODE` says exactly how")
    stream.write("\n".join(lines) + "\n")


def _codes(counter: Counter[str]) -> str:
    return ", ".join(f"{code}×{n}" for code, n in sorted(counter.items()))


def render_json(
    results: Sequence[FileResult],
    target: str,
    unsafe: bool,
    stream: TextIO,
    *,
    written: bool,
    failures: Sequence[tuple[str, str]],
) -> None:
    failed = dict(failures)
    files = []
    for r in results:
        if not (r.changed or r.findings or r.diagnostics):
            continue
        files.append(
            {
                "path": r.path,
                "changed": r.changed,
                "written": written and r.changed and r.path not in failed,
                "error": failed.get(r.path),
                "applied": [{"code": f.code, "line": f.span.line, "column": f.span.column + 1, "title": f.fix_title} for f in r.applied],
                "held_back": [{"code": f.code, "line": f.span.line, "column": f.span.column + 1, "behaviour_change": f.behaviour_change} for f in r.held_back],
                "diagnostics": [{"code": d.code, "message": d.message} for d in r.diagnostics],
                "diff": unified_diff(r),
            }
        )
    tally = _tally(results)
    doc = {
        "schema_version": 1,
        "tool": {"name": "porttool", "version": __version__},
        "target": target,
        "unsafe_fixes": unsafe,
        "summary": {k: dict(sorted(v.items())) for k, v in tally.items()},
        "files": files,
    }
    json.dump(doc, stream, indent=2)
    stream.write("\n")


def unified_diff(result: FileResult) -> str:
    if not result.changed:
        return ""
    assert result.original is not None and result.rewritten is not None
    lines = difflib.unified_diff(
        result.original.splitlines(keepends=True),
        result.rewritten.splitlines(keepends=True),
        fromfile=f"a/{result.path.lstrip('/')}",
        tofile=f"b/{result.path.lstrip('/')}",
    )
    text = "".join(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n" for line in lines)
    return text
