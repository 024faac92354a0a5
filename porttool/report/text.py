"""`--format text` (the default): findings grouped by file, then a summary, rendered with rich.

    train.py
      train.py:3:9    PT001 [*] `.cuda()` places this on a CUDA device
      train.py:12:5   PT301     `torch.backends.cudnn.benchmark` is set
                      help: Neuron has no cuDNN; drop the flag or ...

Human output: its shape may change between versions (scripts should use json or sarif). Without a
terminal, or with `color=False`, it contains no ANSI escape codes at all.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import groupby
from typing import TYPE_CHECKING, Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from porttool.model import FixStatus
from porttool.report import (
    diagnostic_location,
    diagnostic_name,
    fix_marker,
    location,
    one_line,
    severity_counts,
    sorted_diagnostics,
    sorted_findings,
    sorted_targets,
    status_counts,
)

if TYPE_CHECKING:
    from porttool.model import Diagnostic, Finding, ScanReport

SEVERITY_STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}
MARKER_STYLES = {FixStatus.SAFE: "green", FixStatus.UNSAFE: "magenta"}
INDENT = "  "
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`])")


def render(
    report: ScanReport, stream: TextIO, *, statistics: bool = False, color: bool | None = None
) -> None:
    console = make_console(stream, color)
    findings = sorted_findings(report)
    diagnostics = sorted_diagnostics(report)
    for path, group in groupby(findings, key=lambda f: f.path):
        _print_file(console, path, list(group))
        console.print()
    if diagnostics:
        _print_diagnostics(console, diagnostics)
        console.print()
    if statistics and (findings or diagnostics):
        console.print(_statistics_table(findings, diagnostics))
        console.print()
    _print_summary(console, report, findings, diagnostics)


class Writer:
    """`render`, streamed (porttool.report.stream): each file's block as it comes; diagnostics
    (kept until then), statistics and the summary, from counters, at the end."""

    def __init__(
        self,
        stream: TextIO,
        *,
        target: str,
        rules: Any,
        version: str,
        statistics: bool = False,
        color: bool | None = None,
    ) -> None:
        self.console = make_console(stream, color)
        self.target = target
        self.statistics = statistics
        self.diagnostics: list[Diagnostic] = []

    def file(self, findings: list[Finding], diagnostics: list[Diagnostic]) -> None:
        if findings:
            _print_file(self.console, findings[0].path, findings)
            self.console.print()
        self.diagnostics.extend(diagnostics)

    def finish(self, totals: Any, scores: dict[str, dict[str, int | float]], baseline: Any) -> None:
        console, diagnostics = self.console, self.diagnostics
        if diagnostics:
            _print_diagnostics(console, diagnostics)
            console.print()
        if self.statistics and (totals.findings or diagnostics):
            counts: Counter[tuple[str, str]] = Counter(totals.by_rule)
            counts.update({(c, diagnostic_name(c)): n for c, n in totals.diagnostic_codes.items()})
            console.print(_counts_table(counts, totals.fixable))
            console.print()
        _summary(
            console,
            target=self.target,
            files_scanned=totals.files_scanned,
            findings=totals.findings,
            files_with_findings=totals.files_with_findings,
            by_severity=totals.by_severity,
            status=totals.by_status,
            suppressed=totals.suppressed,
            unscanned=totals.files_with_diagnostics,
            scores=scores,
        )


def make_console(stream: TextIO, color: bool | None) -> Console:
    """A console on `stream`; colour forced on/off, or (None) only on a terminal and without NO_COLOR."""
    # Markup, emoji codes and highlighting stay off: messages hold `[...]` and `:name:` text
    # that must print verbatim. soft_wrap keeps one finding on one line in a pipe.
    return Console(
        file=stream,
        force_terminal=color,
        color_system="auto" if color is None else ("standard" if color else None),
        no_color=None if color is None else not color,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
    )


def _print_file(console: Console, path: str, findings: list[Finding]) -> None:
    console.print(Text(path, style="bold underline"))
    locations = [location(f) for f in findings]
    width = max(len(loc) for loc in locations)
    for finding, loc in zip(findings, locations):
        line = Text(INDENT)
        line.append(loc.ljust(width), style="bold")
        line.append("  ")
        line.append(finding.code, style=SEVERITY_STYLES[finding.severity.value])
        marker = fix_marker(finding.status)
        line.append(" ")
        line.append(marker.ljust(3), style=MARKER_STYLES.get(finding.status, ""))
        line.append(" " + one_line(finding.message))
        console.print(line)
        if finding.status in (FixStatus.MANUAL, FixStatus.NONE) and finding.guidance:
            help_line = Text(INDENT + " " * (width + 2))
            help_line.append("help: ", style="bold cyan")
            help_line.append(_short(finding.guidance))
            console.print(help_line)


def _short(guidance: str) -> str:
    """The first sentence of the guidance, on one line (`porttool explain` shows the rest)."""
    return _SENTENCE_END.split(one_line(guidance), maxsplit=1)[0]


def _print_diagnostics(console: Console, diagnostics: list[Diagnostic]) -> None:
    files = len({d.path for d in diagnostics})
    console.print(Text(f"Could not scan {_plural(files, 'file')}:", style="bold red"))
    locations = [diagnostic_location(d) for d in diagnostics]
    width = max(len(loc) for loc in locations)
    for diagnostic, loc in zip(diagnostics, locations):
        line = Text(INDENT)
        line.append(loc.ljust(width), style="bold")
        line.append("  ")
        line.append(diagnostic.code, style="bold red")
        line.append(f" {diagnostic_name(diagnostic.code)}: {one_line(diagnostic.message)}")
        console.print(line)


def _statistics_table(findings: list[Finding], diagnostics: list[Diagnostic]) -> Table:
    counts: Counter[tuple[str, str]] = Counter((f.code, f.rule) for f in findings)
    counts.update((d.code, diagnostic_name(d.code)) for d in diagnostics)
    fixable: Counter[str] = Counter(f.code for f in findings if f.fixable)
    return _counts_table(counts, fixable)


def _counts_table(counts: Counter[tuple[str, str]], fixable: Counter[str]) -> Table:
    table = Table(
        title="Findings by rule", title_justify="left", box=box.SIMPLE, title_style="bold"
    )
    table.add_column("Count", justify="right")
    table.add_column("Code")
    table.add_column("Name")
    table.add_column("Fixable", justify="right")
    for (code, name), count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(str(count), code, name, str(fixable[code]))
    return table


def _print_summary(
    console: Console, report: ScanReport, findings: list[Finding], diagnostics: list[Diagnostic]
) -> None:
    _summary(
        console,
        target=report.target,
        files_scanned=report.files_scanned,
        findings=len(findings),
        files_with_findings=len({f.path for f in findings}),
        by_severity=severity_counts(findings),
        status=status_counts(findings),
        suppressed=sum(r.suppressed for r in report.results),
        unscanned=len({d.path for d in diagnostics}),
        scores=report.scores,
        baselined=int(report.baseline.get("baselined", 0)) if report.baseline else 0,
    )


def _summary(
    console: Console,
    *,
    target: str,
    files_scanned: int,
    findings: int,
    files_with_findings: int,
    by_severity: dict[str, int],
    status: dict[str, int],
    suppressed: int,
    unscanned: int,
    scores: dict[str, dict[str, int | float]],
    baselined: int = 0,
) -> None:
    scanned = _plural(files_scanned, "file")
    if findings:
        severities = ", ".join(
            f"{n} info" if sev == "info" else _plural(n, sev)
            for sev, n in by_severity.items()
            if n
        )
        console.print(
            Text(
                f"Found {_plural(findings, 'finding')} in {_plural(files_with_findings, 'file')} "
                f"({severities}); {scanned} scanned for target {target}.",
                style="bold",
            )
        )
        hints = status[FixStatus.NONE.value]
        rows = (
            ("[*]", status[FixStatus.SAFE.value], "fixable with `porttool rewrite`"),
            (
                "[!]",
                status[FixStatus.UNSAFE.value],
                "fixable with `porttool rewrite --unsafe-fixes` (changes behaviour)",
            ),
            ("", status[FixStatus.MANUAL.value], "to port by hand (see help)"),
            ("", hints, f"{'hint' if hints == 1 else 'hints'} (nothing to fix)"),
        )
        width = max(len(str(count)) for _, count, _ in rows)
        for marker, count, what in rows:
            console.print(Text(f"{INDENT}{marker:<3} {count:>{width}} {what}"))
    else:
        console.print(
            Text(
                f"No findings: no CUDA-specific code found in {scanned} for target {target}.",
                style="bold green",
            )
        )
    if suppressed:
        console.print(
            Text(f"{_plural(suppressed, 'finding')} suppressed by `porttool: ignore` comments.")
        )
    if baselined:
        console.print(
            Text(
                f"{_plural(baselined, 'finding')} recorded in the baseline (hidden above; "
                "the portability table counts the whole code base)."
            )
        )
    if unscanned:
        verb = "was" if unscanned == 1 else "were"
        console.print(
            Text(f"{_plural(unscanned, 'file')} {verb} not scanned (see above).", style="red")
        )
    if any(score.get("sites", 0) for score in scores.values()):
        console.print()
        console.print(_scores_table(target, scores))


def _scores_table(target_selected: str, scores: dict[str, dict[str, int | float]]) -> Table:
    table = Table(
        title="Portability by target", title_justify="left", box=box.SIMPLE, title_style="bold"
    )
    table.add_column("Target")
    for name in ("Findings", "Safe", "Unsafe", "Manual", "Hint", "Score"):
        table.add_column(name, justify="right")
    for target in sorted_targets(scores):
        score = scores[target]
        selected = target == target_selected
        table.add_row(
            f"{target} (selected)" if selected else target,
            *(str(int(score.get(key, 0))) for key in ("sites", "safe", "unsafe", "manual", "hint")),
            f"{float(score.get('score', 100.0)):.1f}%",
            style="bold" if selected else None,
        )
    return table


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
