"""`--format concise`: one line per finding or diagnostic, nothing else (for editors and grep).

    path:line:col: CODE [*] message
    notebook.ipynb:cell 3:line:col: CODE message

Columns are 1-based. `[*]` marks a fix `porttool rewrite` applies, `[!]` one that needs
`--unsafe-fixes`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

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
    from porttool.model import ScanReport


def render(report: ScanReport, stream: TextIO) -> None:
    lines: list[tuple[tuple[object, ...], str]] = []
    for finding in sorted_findings(report):
        marker = fix_marker(finding.status)
        code = f"{finding.code} {marker}" if marker else finding.code
        lines.append(
            (finding_order(finding), f"{location(finding)}: {code} {one_line(finding.message)}")
        )
    for diagnostic in sorted_diagnostics(report):
        key = (diagnostic.path, -1, diagnostic.line, diagnostic.column, diagnostic.code)
        lines.append(
            (
                key,
                f"{diagnostic_location(diagnostic)}: {diagnostic.code} {one_line(diagnostic.message)}",
            )
        )
    # Both keys start (path, cell, line, column, code), so a file's diagnostics sit among its findings.
    stream.writelines(line + "\n" for _, line in sorted(lines, key=lambda item: item[0]))
