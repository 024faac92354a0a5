"""`--format json`: the versioned machine-readable report (schema: docs/json-schema.json).

A contract: `schema_version` is bumped on any breaking change (a field removed, renamed or given
another meaning or type). New fields may appear within a version. Keys keep the order written
here, so two runs over the same tree give byte-identical output.
"""

from __future__ import annotations

import json
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
