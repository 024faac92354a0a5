"""`--format github`: GitHub Actions workflow commands, shown as annotations on the pull request.

    ::error file=train.py,line=3,col=9,endLine=3,endColumn=15,title=PT001 cuda-method-call::message

error → `::error`, warning → `::warning`, info → `::notice`. Values are escaped as the Actions
toolkit does (`@actions/core` `command.ts`): in the message `%`, `\\r`, `\\n`; in properties also
`:` and `,`. Paths are as reported (relative to the working directory), so run porttool from the
repository root for annotations to land on the right file. A notebook finding's line is the line
inside its cell, so the title names the cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

from porttool.model import FixStatus
from porttool.report import cell_label, diagnostic_name, sorted_diagnostics, sorted_findings

if TYPE_CHECKING:
    from porttool.model import Diagnostic, Finding, ScanReport

COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def command(name: str, properties: dict[str, object], message: str) -> str:
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    return f"::{name} {props}::{escape_data(message)}"


def render(report: ScanReport, stream: TextIO) -> None:
    stream.writelines(map(_finding_command, sorted_findings(report)))
    stream.writelines(map(_diagnostic_command, sorted_diagnostics(report)))


def _finding_command(f: Finding) -> str:
    span = f.span
    title = f"{f.code} {f.rule}"
    if f.cell is not None:
        title += f" ({cell_label(f)})"
    properties: dict[str, object] = {
        "file": f.path,
        "line": span.line,
        "col": span.column + 1,
        "endLine": span.end_line,
        "endColumn": span.end_column + 1,
        "title": title,
    }
    message = f.message
    if f.status is FixStatus.SAFE and f.fix_title:
        message += f"\nFix (porttool rewrite): {f.fix_title}"
    elif f.status is FixStatus.UNSAFE and f.fix_title:
        message += f"\nUnsafe fix (porttool rewrite --unsafe-fixes): {f.fix_title}"
    elif f.guidance:
        message += f"\n{f.guidance}"
    return command(COMMANDS[f.severity.value], properties, message) + "\n"


def _diagnostic_command(d: Diagnostic) -> str:
    properties: dict[str, object] = {
        "file": d.path,
        "line": d.line,
        "col": d.column + 1,
        "title": f"{d.code} {diagnostic_name(d.code)}",
    }
    return command("error", properties, d.message) + "\n"


class Writer:
    """`render`, streamed (porttool.report.stream): annotations for findings as they come, those
    for diagnostics (kept until then) at the end."""

    def __init__(self, stream: TextIO, *, target: str, rules: Any, version: str) -> None:
        self.stream = stream
        self.diagnostics: list[Diagnostic] = []

    def file(self, findings: list[Finding], diagnostics: list[Diagnostic]) -> None:
        self.stream.writelines(map(_finding_command, findings))
        self.diagnostics.extend(diagnostics)

    def finish(self, totals: Any, scores: Any, baseline: Any) -> None:
        self.stream.writelines(map(_diagnostic_command, self.diagnostics))
