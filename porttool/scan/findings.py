"""Sites → one target's findings: severity and fix status (`verdicts.verdict`), message, stable fingerprint."""

from __future__ import annotations

import hashlib
import re

from porttool.model import Finding, Site, Span
from porttool.ruleset.registry import Registry
from porttool.scan.analysis import Analysis
from porttool.scan.verdicts import verdict


def fingerprint(code: str, snippet: str, occurrence: int) -> str:
    """A finding's stable id within its file: the rule, the matched code with whitespace
    normalised, and which occurrence of that same code in the file it is (0, 1, ...).

    No line numbers, so edits elsewhere in the file keep it; no path either, because the path as
    displayed depends on the working directory: consumers key on (file, fingerprint) themselves
    (a baseline entry, a SARIF result's location).
    """
    normal = re.sub(r"\s+", " ", snippet).strip()
    return hashlib.sha256(f"{code}\0{normal}\0{occurrence}".encode()).hexdigest()[:20]


def make_findings(analysis: Analysis, registry: Registry, target: str) -> tuple[Finding, ...]:
    """Turn target-independent sites into this target's findings (KEEP actions drop out)."""
    if not analysis.sites:
        return ()  # most files of a large tree: skip splitting their text into lines
    lines = re.split(r"\r\n|\r|\n", analysis.text)
    findings: list[Finding] = []
    seen: dict[tuple[str, str], int] = {}
    for site in analysis.sites:
        judged = verdict(site, analysis.sites, registry, target)
        if judged is None:
            continue
        rule = registry.by_code[site.code]
        fix = rule.fix_for(target)
        severity, status = judged.severity, judged.status
        message = _message(rule.message or rule.summary, site) + judged.note
        snippet_text = _span_text(lines, site.span)
        occurrence = seen.get((site.code, snippet_text), 0)
        seen[(site.code, snippet_text)] = occurrence + 1
        span, cell = site.span, None
        if analysis.cell_of_line is not None:
            cell, line = analysis.cell_of_line(span.line)
            _, end_line = analysis.cell_of_line(span.end_line)
            span = Span(line, span.column, end_line, span.end_column)
        findings.append(
            Finding(
                code=rule.code,
                rule=rule.name,
                message=message,
                path=analysis.source.display,
                span=span,
                severity=severity,
                target=target,
                status=status,
                fix_title=fix.title,
                guidance=fix.guidance,
                behaviour_change=fix.behaviour_change,
                snippet=lines[site.span.line - 1].strip() if site.span.line - 1 < len(lines) else "",
                fingerprint=fingerprint(rule.code, snippet_text, occurrence),
                node_type=site.node_type,
                in_dispatch=site.in_dispatch,
                cell=cell,
            )
        )
    return tuple(findings)


_MESSAGE_FIELD = re.compile(r"\{(name|value)\}")


def _message(template: str, site: Site) -> str:
    """Fill a rule message's `{name}` and `{value}`. Not `str.format`: a rule file is data, and
    `{name.__class__...}` must neither reach into objects nor crash the run."""
    return _MESSAGE_FIELD.sub(lambda m: str(getattr(site, m.group(1))), template)


def _span_text(lines: list[str], span: Span) -> str:
    if span.line == span.end_line:
        return lines[span.line - 1][span.column : span.end_column] if span.line - 1 < len(lines) else ""
    chunk = lines[span.line - 1 : span.end_line]
    if not chunk:
        return ""
    chunk[0] = chunk[0][span.column :]
    chunk[-1] = chunk[-1][: span.end_column]
    return "\n".join(chunk)
