"""`--format concise`: one line per finding or diagnostic, nothing else (for editors and grep).

    path:line:col: CODE [*] message
    notebook.ipynb:cell 3:line:col: CODE message

Columns are 1-based. `[*]` marks a fix `porttool rewrite` applies, `[!]` one that needs
`--unsafe-fixes`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

from porttool.report import (
    diagnostic_location,
    finding_order,
    fix_marker,
    location,
    one_line,
    sorted_diagnostics,
    sorted_findings,
)

if TYPE_CHECKING:
    from porttool.model import Diagnostic, Finding, ScanReport


def render(report: ScanReport, stream: TextIO) -> None:
    lines = [(finding_order(f), _finding_line(f)) for f in sorted_findings(report)]
    lines += [(_diagnostic_order(d), _diagnostic_line(d)) for d in sorted_diagnostics(report)]
    # Both keys start (path, cell, line, column, code), so a file's diagnostics sit among its findings.
    stream.writelines(line + "\n" for _, line in sorted(lines, key=lambda item: item[0]))


def _finding_line(finding: Finding) -> str:
    marker = fix_marker(finding.status)
    code = f"{finding.code} {marker}" if marker else finding.code
    return f"{location(finding)}: {code} {one_line(finding.message)}"


def _diagnostic_order(diagnostic: Diagnostic) -> tuple[object, ...]:
    return (diagnostic.path, -1, diagnostic.line, diagnostic.column, diagnostic.code)


def _diagnostic_line(diagnostic: Diagnostic) -> str:
    return f"{diagnostic_location(diagnostic)}: {diagnostic.code} {one_line(diagnostic.message)}"


class Writer:
    """`render`, streamed one file at a time (porttool.report.stream): a file's lines are sorted
    as `render` sorts them, and no line of one file sorts among another file's."""

    def __init__(self, stream: TextIO, *, target: str, rules: Any, version: str) -> None:
        self.stream = stream

    def file(self, findings: list[Finding], diagnostics: list[Diagnostic]) -> None:
        lines = [(finding_order(f), _finding_line(f)) for f in findings]
        if diagnostics:
            lines += [(_diagnostic_order(d), _diagnostic_line(d)) for d in diagnostics]
            lines.sort(key=lambda item: item[0])
        self.stream.writelines(line + "\n" for _, line in lines)

    def finish(self, totals: Any, scores: Any, baseline: Any) -> None:
        pass
