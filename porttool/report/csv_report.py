"""`--format csv`: a header and one row per finding, then one per diagnostic (for spreadsheets).

Columns are 1-based like every other format. Diagnostics (files that could not be scanned) are
rows too, with their PT9xx code, so nothing is silently missing from a spreadsheet; their
`status` is empty. `cell` is the notebook cell index (0-based, as in the `.ipynb` `cells` list)
and empty outside notebooks. Rows end in `\\n` on every platform.
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, Any, TextIO

from porttool.report import diagnostic_name, sorted_diagnostics, sorted_findings

if TYPE_CHECKING:
    from porttool.model import Diagnostic, Finding, ScanReport

COLUMNS: tuple[str, ...] = (
    "path",
    "line",
    "column",
    "end_line",
    "end_column",
    "code",
    "rule",
    "severity",
    "status",
    "message",
    "fix_title",
    "fingerprint",
    "cell",
)


def render(report: ScanReport, stream: TextIO) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(_finding_row(f) for f in sorted_findings(report))
    writer.writerows(_diagnostic_row(d) for d in sorted_diagnostics(report))


def _finding_row(f: Finding) -> tuple[object, ...]:
    span = f.span
    return (
        f.path,
        span.line,
        span.column + 1,
        span.end_line,
        span.end_column + 1,
        f.code,
        f.rule,
        f.severity.value,
        f.status.value,
        f.message,
        f.fix_title,
        f.fingerprint,
        "" if f.cell is None else f.cell,
    )


def _diagnostic_row(d: Diagnostic) -> tuple[object, ...]:
    return (
        d.path,
        d.line,
        d.column + 1,
        d.line,
        d.column + 1,
        d.code,
        diagnostic_name(d.code),
        "error",
        "",
        d.message,
        "",
        "",
        "",
    )


class Writer:
    """`render`, streamed (porttool.report.stream): finding rows as they come, diagnostic rows
    (kept until then) at the end."""

    def __init__(self, stream: TextIO, *, target: str, rules: Any, version: str) -> None:
        self.writer = csv.writer(stream, lineterminator="\n")
        self.writer.writerow(COLUMNS)
        self.diagnostics: list[Diagnostic] = []

    def file(self, findings: list[Finding], diagnostics: list[Diagnostic]) -> None:
        self.writer.writerows(map(_finding_row, findings))
        self.diagnostics.extend(diagnostics)

    def finish(self, totals: Any, scores: Any, baseline: Any) -> None:
        self.writer.writerows(map(_diagnostic_row, self.diagnostics))
