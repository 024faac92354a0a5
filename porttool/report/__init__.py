"""Renderers: one module per output format, each turning a `ScanReport` into text on a stream.

Renderers only present: no scanning, no fixing, no narration. Output is deterministic (files,
findings and diagnostics sorted, no timestamps or absolute machine paths) so it can be diffed and
cached. Modules are imported lazily so that `--format json` never pays for rich.

The helpers below are the presentation conventions every format shares (sort order, fix markers,
1-based columns, notebook cell labels, rule documentation links).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

from porttool.model import DIAGNOSTIC_CODES, TARGETS, Diagnostic, Finding, FixStatus, Severity

if TYPE_CHECKING:
    from porttool.model import Rule, ScanReport

FORMATS: tuple[str, ...] = ("text", "concise", "json", "sarif", "github", "gitlab", "csv")

_MODULES = {
    "text": "porttool.report.text",
    "concise": "porttool.report.concise",
    "json": "porttool.report.json_report",
    "sarif": "porttool.report.sarif",
    "github": "porttool.report.github",
    "gitlab": "porttool.report.gitlab",
    "csv": "porttool.report.csv_report",
}

PROJECT_URL = "https://github.com/porttool/porttool"
RULES_DOC_URL = f"{PROJECT_URL}/blob/main/docs/rules.md"

# The single-character markers ruff users already read: [*] is fixed by `porttool rewrite`,
# [!] only with `--unsafe-fixes` (it changes behaviour); manual findings and hints get none.
FIX_MARKERS: dict[FixStatus, str] = {FixStatus.SAFE: "[*]", FixStatus.UNSAFE: "[!]"}


def render(
    fmt: str,
    report: ScanReport,
    stream: TextIO,
    *,
    statistics: bool = False,
    color: bool | None = None,
) -> None:
    """Write `report` to `stream` in format `fmt` (one of `FORMATS`).

    `statistics` adds a per-rule count table and `color` forces colour on or off (None: colour
    only when `stream` is a terminal); both apply to the `text` format only, machine formats never
    change shape with them.
    """
    module_name = _MODULES.get(fmt)
    if module_name is None:
        raise ValueError(f"unknown report format {fmt!r} (formats: {', '.join(FORMATS)})")
    module = importlib.import_module(module_name)
    if fmt == "text":
        module.render(report, stream, statistics=statistics, color=color)
    else:
        module.render(report, stream)


def finding_order(finding: Finding) -> tuple[object, ...]:
    # A notebook's line numbers restart in every cell, so the cell sorts before the line.
    cell = -1 if finding.cell is None else finding.cell
    span = finding.span
    return (
        finding.path,
        cell,
        span.line,
        span.column,
        finding.code,
        span.end_line,
        span.end_column,
        finding.fingerprint,
        finding.message,
    )


def sorted_findings(report: ScanReport) -> list[Finding]:
    return sorted((f for r in report.results for f in r.findings), key=finding_order)


def sorted_diagnostics(report: ScanReport) -> list[Diagnostic]:
    return sorted(
        (d for r in report.results for d in r.diagnostics),
        key=lambda d: (d.path, d.line, d.column, d.code, d.message),
    )


def sorted_targets(targets: Iterable[str]) -> list[str]:
    """The built-in targets in their documented order, then any others alphabetically."""
    known = [t for t in TARGETS if t in targets]
    return known + sorted(t for t in targets if t not in TARGETS)


def diagnostic_name(code: str) -> str:
    return DIAGNOSTIC_CODES.get(code, "diagnostic")


def fix_marker(status: FixStatus) -> str:
    return FIX_MARKERS.get(status, "")


def one_line(text: str) -> str:
    """Collapse whitespace (newlines included) so a line-based format keeps one record per line."""
    return " ".join(text.split())


def cell_label(finding: Finding) -> str:
    """`cell 3` (1-based, as notebook front-ends number cells) or "" outside notebooks."""
    return "" if finding.cell is None else f"cell {finding.cell + 1}"


def location(finding: Finding) -> str:
    """`path:line:col` (1-based column), with `:cell N` before the line for notebooks."""
    span = finding.span
    cell = cell_label(finding)
    where = f"{finding.path}:{cell}:" if cell else f"{finding.path}:"
    return f"{where}{span.line}:{span.column + 1}"


def diagnostic_location(diagnostic: Diagnostic) -> str:
    return f"{diagnostic.path}:{diagnostic.line}:{diagnostic.column + 1}"


def rule_help_uri(rule: Rule) -> str:
    """A stable link to the rule's documentation (the anchor is the lower-case code)."""
    return f"{RULES_DOC_URL}#{rule.code.lower()}"


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Findings per severity, most severe first; every severity present (0 when none)."""
    counts = {s.value: 0 for s in sorted(Severity, key=lambda s: -s.rank)}
    for finding in findings:
        counts[finding.severity.value] += 1
    return counts


def status_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Findings per fix status (`safe`, `unsafe`, `manual`, `none`); every status present."""
    counts = {s.value: 0 for s in FixStatus}
    for finding in findings:
        counts[finding.status.value] += 1
    return counts
