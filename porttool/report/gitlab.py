"""`--format gitlab`: a GitLab Code Quality report (the Code Climate issue subset GitLab reads),
for `artifacts: reports: codequality:` in `.gitlab-ci.yml`.

A JSON array with one issue per finding, then one per file porttool could not scan:

    {"type": "issue", "check_name": "PT001 cuda-method-call", "description": "...",
     "content": {"body": "..."}, "categories": ["Compatibility"], "severity": "major",
     "fingerprint": "...", "location": {"path": "train.py", "lines": {"begin": 3, "end": 3},
     "positions": {"begin": {"line": 3, "column": 9}, "end": {"line": 3, "column": 15}}},
     "engine_name": "porttool"}

Severity: error → `major`, warning → `minor`, info → `info`; a file that could not be scanned →
`critical` (the report is incomplete for it). The fingerprint is unique per issue and stable
across edits elsewhere in the file: it hashes the path and the finding's own fingerprint (rule,
matched code, occurrence), never the line. A notebook finding's lines count within its cell,
and its description names the cell.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, TextIO

from porttool.model import FixStatus
from porttool.report import cell_label, diagnostic_name, sorted_diagnostics, sorted_findings

if TYPE_CHECKING:
    from porttool.model import Diagnostic, Finding, ScanReport

SEVERITIES = {"error": "major", "warning": "minor", "info": "info"}
DIAGNOSTIC_SEVERITY = "critical"


def render(report: ScanReport, stream: TextIO) -> None:
    issues = [_finding(f) for f in sorted_findings(report)] + [_diagnostic(d) for d in sorted_diagnostics(report)]
    json.dump(issues, stream, indent=2, ensure_ascii=True)
    stream.write("\n")


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _finding(f: Finding) -> dict[str, Any]:
    span = f.span
    description = f.message if f.cell is None else f"{f.message} ({cell_label(f)})"
    if f.status is FixStatus.SAFE and f.fix_title:
        body = f"Fix (`porttool rewrite`): {f.fix_title}"
    elif f.status is FixStatus.UNSAFE and f.fix_title:
        body = f"Unsafe fix (`porttool rewrite --unsafe-fixes`): {f.fix_title}. Behaviour change: {f.behaviour_change}"
    else:
        body = f.guidance or f.fix_title
    return {
        "type": "issue",
        "check_name": f"{f.code} {f.rule}",
        "description": description,
        "content": {"body": f"{body}\n\n`porttool explain {f.code}` shows the rule in full."},
        "categories": ["Compatibility"],
        "severity": SEVERITIES[f.severity.value],
        "fingerprint": _fingerprint(f.path, "" if f.cell is None else str(f.cell), f.code, f.fingerprint or f"{span.line}:{span.column}"),
        "location": {
            "path": f.path,
            "lines": {"begin": span.line, "end": span.end_line},
            "positions": {"begin": {"line": span.line, "column": span.column + 1}, "end": {"line": span.end_line, "column": span.end_column + 1}},
        },
        "engine_name": "porttool",
    }


def _diagnostic(d: Diagnostic) -> dict[str, Any]:
    return {
        "type": "issue",
        "check_name": f"{d.code} {diagnostic_name(d.code)}",
        "description": f"porttool could not scan this file: {d.message}",
        "categories": ["Bug Risk"],
        "severity": DIAGNOSTIC_SEVERITY,
        "fingerprint": _fingerprint(d.path, d.code, str(d.line), d.message),
        "location": {"path": d.path, "lines": {"begin": max(d.line, 1)}},
        "engine_name": "porttool",
    }


class Writer:
    """`render`, streamed (porttool.report.stream): each file's issues as they come, those for
    diagnostics (kept until then) at the end, in `json.dump(indent=2)`'s layout."""

    def __init__(self, stream: TextIO, *, target: str, rules: Any, version: str) -> None:
        self.stream = stream
        self.count = 0
        self.diagnostics: list[Diagnostic] = []

    def _write(self, issue: dict[str, Any]) -> None:
        from porttool.report.stream import dumps_indented

        self.stream.write(("[\n  " if self.count == 0 else ",\n  ") + dumps_indented(issue, 1))
        self.count += 1

    def file(self, findings: list[Finding], diagnostics: list[Diagnostic]) -> None:
        for finding in findings:
            self._write(_finding(finding))
        self.diagnostics.extend(diagnostics)

    def finish(self, totals: Any, scores: Any, baseline: Any) -> None:
        for diagnostic in self.diagnostics:
            self._write(_diagnostic(diagnostic))
        self.stream.write("[]\n" if self.count == 0 else "\n]\n")
