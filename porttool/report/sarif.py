"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

One run. `tool.driver.rules` holds every selected rule (so a viewer can explain a rule even in a
clean run); results point at them by `ruleId` and `ruleIndex`. Columns are 1-based and counted in
Unicode code points (`columnKind`), end columns exclusive. Paths are relative to `%SRCROOT%` (the
directory porttool ran in). Files that could not be scanned are tool execution notifications, not
results: they are facts about the run, not about the code. A result porttool fixes safely carries
`fixes`: the replacements of the real rewrite of its site (porttool.report.sarif_fixes).
"""

from __future__ import annotations

import json
import re
from itertools import groupby
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from porttool.model import DIAGNOSTIC_CODES, Action, Applicability, Severity
from porttool.report.sarif_fixes import file_fixes
from porttool.ruleset.registry import Registry
from porttool.report import (
    PROJECT_URL,
    rule_help_uri,
    sorted_diagnostics,
    sorted_findings,
    sorted_targets,
)

if TYPE_CHECKING:
    from porttool.model import Diagnostic, Finding, Rule, ScanReport, TargetFix

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
FINGERPRINT_KEY = "porttool/v1"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:/")


def render(report: ScanReport, stream: TextIO) -> None:
    json.dump(to_dict(report), stream, indent=2, sort_keys=False, ensure_ascii=True)
    stream.write("\n")


def to_dict(report: ScanReport) -> dict[str, Any]:
    rules = sorted(report.rules, key=lambda r: r.code)
    rule_index = {rule.code: i for i, rule in enumerate(rules)}
    notification_index = {code: i for i, code in enumerate(sorted(DIAGNOSTIC_CODES))}
    registry = Registry(tuple(rules))
    results: list[dict[str, Any]] = []
    for path, group in groupby(sorted_findings(report), key=lambda f: f.path):
        findings = list(group)
        fixes = file_fixes(path, findings, registry, report.target)
        results += [_result(f, rule_index, fixes.get(i)) for i, f in enumerate(findings)]
    return _document(
        report.target,
        report.version,
        rules,
        [_notification(d, notification_index) for d in sorted_diagnostics(report)],
        results,
    )


def _document(
    target: str,
    version: str,
    rules: list[Rule],
    notifications: list[dict[str, Any]],
    results: list[dict[str, Any]],
) -> dict[str, Any]:
    driver: dict[str, Any] = {
        "name": "porttool",
        "version": version,
        "informationUri": PROJECT_URL,
        "rules": [_rule(rule, target) for rule in rules],
        "notifications": [
            {"id": code, "name": DIAGNOSTIC_CODES[code], "defaultConfiguration": {"level": "error"}}
            for code in sorted(DIAGNOSTIC_CODES)
        ],
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "invocations": [
                    {
                        # The run itself completed: a file it could not scan is an error-level
                        # notification, not a failed execution (SARIF 2.1.0 §3.20.14).
                        "executionSuccessful": True,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "columnKind": "unicodeCodePoints",
                "properties": {"target": target},
                "results": results,
            }
        ],
    }


def artifact_location(path: str) -> dict[str, str]:
    """A relative path against `%SRCROOT%`; a path outside the scanned root as a `file:` URI."""
    if path.startswith("/"):
        return {"uri": "file://" + quote(path)}
    if _WINDOWS_DRIVE.match(path):
        return {"uri": "file:///" + quote(path, safe="/:")}
    return {"uri": quote(path), "uriBaseId": "%SRCROOT%"}


def _rule(rule: Rule, target: str) -> dict[str, Any]:
    text, markdown = _help(rule)
    properties: dict[str, Any] = {
        "tags": ["portability", "cuda"] + ([rule.family] if rule.family else [])
    }
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.why},
        "help": {"text": text, "markdown": markdown},
        "helpUri": rule_help_uri(rule),
        "defaultConfiguration": {"level": LEVELS[rule.severity_for(target)]},
        "properties": properties,
    }


def _fix_summary(fix: TargetFix) -> str:
    if fix.action is Action.KEEP:
        return "not reported: this code works on this target"
    if fix.action in (Action.REWRITE, Action.REMOVE):
        if fix.applicability is Applicability.UNSAFE:
            return f"unsafe fix (`porttool rewrite --unsafe-fixes`): {fix.title}. Behaviour change: {fix.behaviour_change}"
        return f"fix (`porttool rewrite`): {fix.title}"
    kind = "manual" if fix.action is Action.MANUAL else "hint"
    return f"{kind}: {fix.guidance}"


def _help(rule: Rule) -> tuple[str, str]:
    targets = sorted_targets(rule.fixes)
    text = [rule.why, "", "Fix by target:"]
    text += [f"- {t}: {' '.join(_fix_summary(rule.fixes[t]).split())}" for t in targets]
    markdown = [
        f"**{rule.code} {rule.name}**: {rule.summary}",
        "",
        rule.why,
        "",
        "**Fix by target**",
        "",
    ]
    markdown += [f"- `{t}`: {' '.join(_fix_summary(rule.fixes[t]).split())}" for t in targets]
    if rule.known_problems:
        text += ["", "Known problems:", rule.known_problems]
        markdown += ["", "**Known problems**", "", rule.known_problems]
    if rule.references:
        text += ["", "References:"] + [f"- {ref}" for ref in rule.references]
        markdown += ["", "**References**", ""] + [f"- <{ref}>" for ref in rule.references]
    return "\n".join(text), "\n".join(markdown)


def _region(line: int, column: int, end_line: int, end_column: int) -> dict[str, int]:
    return {
        "startLine": line,
        "startColumn": column + 1,
        "endLine": end_line,
        "endColumn": end_column + 1,
    }


def _result(finding: Finding, rule_index: dict[str, int], fix: dict[str, Any] | None = None) -> dict[str, Any]:
    span = finding.span
    result: dict[str, Any] = {"ruleId": finding.code}
    if finding.code in rule_index:
        result["ruleIndex"] = rule_index[finding.code]
    result["level"] = LEVELS[finding.severity]
    result["message"] = {"text": finding.message}
    result["locations"] = [
        {
            "physicalLocation": {
                "artifactLocation": artifact_location(finding.path),
                "region": _region(span.line, span.column, span.end_line, span.end_column),
            }
        }
    ]
    if finding.fingerprint:
        result["partialFingerprints"] = {FINGERPRINT_KEY: finding.fingerprint}
    if fix is not None:
        result["fixes"] = [fix]
    properties: dict[str, Any] = {
        "target": finding.target,
        "fixStatus": finding.status.value,
        "fixTitle": finding.fix_title,
    }
    if finding.behaviour_change:
        properties["behaviourChange"] = finding.behaviour_change
    if finding.guidance:
        properties["guidance"] = finding.guidance
    if finding.in_dispatch:
        properties["inDispatch"] = True
    if finding.cell is not None:
        # The region's lines count within this cell (0-based index into the notebook's cells).
        properties["cell"] = finding.cell
    result["properties"] = properties
    return result


def _notification(diagnostic: Diagnostic, index: dict[str, int]) -> dict[str, Any]:
    descriptor: dict[str, Any] = {"id": diagnostic.code}
    if diagnostic.code in index:
        descriptor["index"] = index[diagnostic.code]
    return {
        "descriptor": descriptor,
        "level": "error",
        "message": {"text": diagnostic.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": artifact_location(diagnostic.path),
                    "region": {"startLine": diagnostic.line, "startColumn": diagnostic.column + 1},
                }
            }
        ],
    }


class Writer:
    """The same log as `render`, streamed (porttool.report.stream): results are spooled as they
    come; the notifications, which SARIF puts before them, are kept and written at the end."""

    def __init__(self, stream: TextIO, *, target: str, rules: Any, version: str) -> None:
        from porttool.report.stream import Spool

        self.stream = stream
        self.target = target
        self.version = version
        self.rules = sorted(rules, key=lambda r: r.code)
        self.registry = Registry(tuple(self.rules))
        self.rule_index = {rule.code: i for i, rule in enumerate(self.rules)}
        self.notification_index = {code: i for i, code in enumerate(sorted(DIAGNOSTIC_CODES))}
        self.spool = Spool(4)
        self.notifications: list[dict[str, Any]] = []

    def file(self, findings: list[Finding], diagnostics: list[Diagnostic]) -> None:
        from porttool.report.stream import dumps_indented

        fixes = file_fixes(findings[0].path, findings, self.registry, self.target) if findings else {}
        for i, finding in enumerate(findings):
            self.spool.write(dumps_indented(_result(finding, self.rule_index, fixes.get(i)), 4))
        self.notifications.extend(_notification(d, self.notification_index) for d in diagnostics)

    def finish(self, totals: Any, scores: Any, baseline: Any) -> None:
        doc = _document(self.target, self.version, self.rules, self.notifications, [])
        try:
            self.spool.splice(json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=True), "results", 3, self.stream)
            self.stream.write("\n")
        finally:
            self.spool.close()
