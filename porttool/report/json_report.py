"""`--format json`: the versioned machine-readable report (schema: docs/json-schema.json).

A contract: `schema_version` is bumped on any breaking change (a field removed, renamed or given
another meaning or type). New fields may appear within a version. Keys keep the order written
here, so two runs over the same tree give byte-identical output.
"""

from __future__ import annotations

import functools
import json
from json.encoder import encode_basestring_ascii as _s
from typing import TYPE_CHECKING, Any, TextIO

from porttool.report import (
    diagnostic_name,
    severity_counts,
    sorted_diagnostics,
    sorted_findings,
    sorted_targets,
    status_counts,
)

if TYPE_CHECKING:
    from porttool.model import Diagnostic, Finding, ScanReport

SCHEMA_VERSION = 1


def render(report: ScanReport, stream: TextIO) -> None:
    # ASCII escapes keep the bytes identical whatever the stream's encoding (a cp1252 console).
    json.dump(to_dict(report), stream, indent=2, sort_keys=False, ensure_ascii=True)
    stream.write("\n")


def to_dict(report: ScanReport) -> dict[str, Any]:
    findings = sorted_findings(report)
    diagnostics = sorted_diagnostics(report)
    doc = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "porttool", "version": report.version},
        "target": report.target,
        "summary": {
            "files_scanned": report.files_scanned,
            "findings": len(findings),
            "diagnostics": len(diagnostics),
            "suppressed": sum(r.suppressed for r in report.results),
            "by_severity": severity_counts(findings),
            "by_status": status_counts(findings),
            "scores": {
                target: _score(report.scores[target]) for target in sorted_targets(report.scores)
            },
        },
        "findings": [_finding(f) for f in findings],
        "diagnostics": [_diagnostic(d) for d in diagnostics],
    }
    if report.baseline is not None:  # only with `scan --baseline`: findings above are the new ones
        doc["baseline"] = report.baseline
    return doc


_SCORE_KEYS = ("sites", "safe", "unsafe", "manual", "hint")


def _score(score: dict[str, int | float]) -> dict[str, int | float]:
    entry: dict[str, int | float] = {key: int(score.get(key, 0)) for key in _SCORE_KEYS}
    entry["score"] = float(score.get("score", 100.0))
    return entry


def _finding(finding: Finding) -> dict[str, Any]:
    span = finding.span
    return {
        "code": finding.code,
        "rule": finding.rule,
        "message": finding.message,
        "path": finding.path,
        "line": span.line,
        "column": span.column + 1,
        "end_line": span.end_line,
        "end_column": span.end_column + 1,
        "severity": finding.severity.value,
        "target": finding.target,
        "fix": {
            "status": finding.status.value,
            "title": finding.fix_title,
            "behaviour_change": finding.behaviour_change,
            "guidance": finding.guidance,
        },
        "snippet": finding.snippet,
        "fingerprint": finding.fingerprint,
        "in_dispatch": finding.in_dispatch,
        "cell": finding.cell,
    }


def _diagnostic(diagnostic: Diagnostic) -> dict[str, Any]:
    return {
        "code": diagnostic.code,
        "name": diagnostic_name(diagnostic.code),
        "path": diagnostic.path,
        "message": diagnostic.message,
        "line": diagnostic.line,
        "column": diagnostic.column + 1,
    }


class Writer:
    """The same document as `render`, streamed (porttool.report.stream): findings are spooled as
    they come and the document, whose summary comes first, is assembled around them at the end."""

    def __init__(self, stream: TextIO, *, target: str, rules: Any, version: str) -> None:
        from porttool.report.stream import Spool

        self.stream = stream
        self.target = target
        self.version = version
        self.spool = Spool(2)
        self.diagnostics: list[dict[str, Any]] = []

    def file(self, findings: list[Finding], diagnostics: list[Diagnostic]) -> None:
        write = self.spool.write
        for finding in findings:
            write(_finding_text(finding))
        self.diagnostics.extend(_diagnostic(d) for d in diagnostics)

    def finish(self, totals: Any, scores: dict[str, dict[str, int | float]], baseline: dict[str, Any] | None) -> None:
        doc: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "porttool", "version": self.version},
            "target": self.target,
            "summary": {
                "files_scanned": totals.files_scanned,
                "findings": totals.findings,
                "diagnostics": totals.diagnostics,
                "suppressed": totals.suppressed,
                "by_severity": dict(totals.by_severity),
                "by_status": dict(totals.by_status),
                "scores": {target: _score(scores[target]) for target in sorted_targets(scores)},
            },
            "findings": [],
            "diagnostics": self.diagnostics,
        }
        if baseline is not None:
            doc["baseline"] = baseline
        try:
            self.spool.splice(json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=True), "findings", 1, self.stream)
            self.stream.write("\n")
        finally:
            self.spool.close()


def _finding_text(finding: Finding) -> str:
    """`_finding(finding)` as `json.dump(indent=2)` writes it inside the findings list."""
    span = finding.span
    cell = finding.cell
    return (
        f'{{\n      "code": {_s(finding.code)},\n      "rule": {_s(finding.rule)},\n      "message": {_s(finding.message)}'
        f',\n      "path": {_s(finding.path)},\n      "line": {span.line:d},\n      "column": {span.column + 1:d}'
        f',\n      "end_line": {span.end_line:d},\n      "end_column": {span.end_column + 1:d}'
        f',\n      "severity": {_s(finding.severity.value)},\n      "target": {_s(finding.target)}'
        f',\n      "fix": {_fix_text(finding.status.value, finding.fix_title, finding.behaviour_change, finding.guidance)}'
        f',\n      "snippet": {_s(finding.snippet)},\n      "fingerprint": {_s(finding.fingerprint)}'
        f',\n      "in_dispatch": {"true" if finding.in_dispatch else "false"}'
        f',\n      "cell": {"null" if cell is None else format(cell, "d")}\n    }}'
    )


@functools.lru_cache(maxsize=1024)
def _fix_text(status: str, title: str, behaviour_change: str, guidance: str) -> str:
    """The `fix` object (the same for every finding of a rule and target: encoded once)."""
    return (
        f'{{\n        "status": {_s(status)},\n        "title": {_s(title)}'
        f',\n        "behaviour_change": {_s(behaviour_change)},\n        "guidance": {_s(guidance)}\n      }}'
    )
