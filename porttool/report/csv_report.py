"""`--format csv`: a header and one row per finding, then one per diagnostic (for spreadsheets).

Columns are 1-based like every other format. Diagnostics (files that could not be scanned) are
rows too, with their PT9xx code, so nothing is silently missing from a spreadsheet; their
`status` is empty. `cell` is the notebook cell index (0-based, as in the `.ipynb` `cells` list)
and empty outside notebooks. Rows end in `\\n` on every platform.
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, TextIO

from porttool.report import diagnostic_name, sorted_diagnostics, sorted_findings

if TYPE_CHECKING:
    from porttool.model import ScanReport

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
    for f in sorted_findings(report):
        span = f.span
        writer.writerow(
            (
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
        )
    for d in sorted_diagnostics(report):
        writer.writerow(
            (
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
        )
