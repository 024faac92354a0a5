"""The effort estimate: what is left for a person after `porttool rewrite`, in person-hours.

Each finding counts by its fix status for the target and its rule's effort level
(`effort` in the rule file, SYCLomatic's three levels):

    safe fix    → 0 (porttool applies it)
    unsafe fix  → low (a person reviews the behaviour change the fix states)
    manual      → the rule's effort for the target
    hint        → 0

    hours = 0.25 × low + 2 × medium + 8 × high

Python-port work and kernel-port work are kept apart (`scope`): a project whose Python training
script sits next to a folder of CUDA programs gets one estimate for each, so the kernels do not
drown the number that says how far the Python port is. Kernel work is counted per kernel
(porttool.report.kernel_triage): a CUDA file counts its rule's effort once per `__global__`
function in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from porttool.model import Effort, Finding, FixStatus, Rule

HOURS: dict[Effort, float] = {Effort.LOW: 0.25, Effort.MEDIUM: 2.0, Effort.HIGH: 8.0}
HOURS_PER_DAY = 8.0

# The rules whose findings are kernel work: custom kernels and their builds (CUDA sources,
# extensions, load_inline, Triton kernels and imports, jiterator). CUDA-only libraries (flash-attn,
# apex, ...) are replaced from Python: they stay in the Python port.
KERNEL_CODES = frozenset({"PT701", "PT702", "PT703", "PT704", "PT711", "PT712"})

PYTHON, KERNEL = "python", "kernel"


def scope_of(code: str) -> str:
    return KERNEL if code in KERNEL_CODES else PYTHON


def level_of(finding: Finding, rule: Rule | None) -> Effort | None:
    """The effort level a finding costs for its target, or None when it costs nothing."""
    if finding.status is FixStatus.UNSAFE:
        return Effort.LOW
    if finding.status is FixStatus.MANUAL:
        return rule.effort_for(finding.target) if rule is not None else Effort.MEDIUM
    return None


@dataclass(frozen=True)
class Term:
    """One line of an estimate: `count` units at `level` (`what` says what they are)."""

    what: str
    level: Effort
    count: int

    @property
    def hours(self) -> float:
        return self.count * HOURS[self.level]


@dataclass(frozen=True)
class Estimate:
    terms: tuple[Term, ...]

    @property
    def hours(self) -> float:
        return sum(t.hours for t in self.terms)

    @property
    def days(self) -> float:
        return self.hours / HOURS_PER_DAY

    def formula(self) -> str:
        """`2 × 0.25 h + 3 × 2 h = 6.5 h`: the terms with their weights, then the sum."""
        parts = [f"{t.count} × {format_hours(HOURS[t.level])}" for t in self.terms if t.count]
        return (" + ".join(parts) or "0") + f" = {format_hours(self.hours)}"


def python_estimate(findings: Iterable[Finding], rules: dict[str, Rule]) -> Estimate:
    """The Python port's estimate from one target's findings (kernel-scope findings skipped)."""
    review = 0
    manual = {level: 0 for level in Effort}
    for finding in findings:
        if scope_of(finding.code) != PYTHON:
            continue
        level = level_of(finding, rules.get(finding.code))
        if level is None:
            continue
        if finding.status is FixStatus.UNSAFE:
            review += 1
        else:
            manual[level] += 1
    terms = [Term("unsafe fixes to review", Effort.LOW, review)]
    terms += [Term(f"{level.value}-effort manual ports", level, manual[level]) for level in Effort]
    return Estimate(tuple(terms))


def format_hours(hours: float) -> str:
    """`0.25 h`, `6.5 h`, `120 h` (no trailing zeros)."""
    text = f"{hours:.2f}".rstrip("0").rstrip(".")
    return f"{text} h"


def format_effort(hours: float) -> str:
    """Hours for small numbers, person-days beside them for large ones: `6.5 h`, `96 h (12 days)`."""
    if hours < HOURS_PER_DAY * 2:
        return format_hours(hours)
    days = hours / HOURS_PER_DAY
    return f"{format_hours(hours)} ({days:.1f}".rstrip("0").rstrip(".") + " days)"
