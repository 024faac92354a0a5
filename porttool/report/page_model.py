"""The porting report's content, computed once from the scan's results and rendered as HTML
(porttool.report.html_page) or Markdown (porttool.report.markdown_page).

Every count here is a count of the scan's own `Finding`s for a target — the numbers `porttool
scan --target T` prints in its summary — split by scope (Python port / kernel port,
porttool.report.effort). Each finding gets a cost in hours (its effort term; a kernel item's cost
sits on its first finding), and every estimate, heat-map cell and chart sums those costs, so the
page adds up: the heat map's total is the estimate, the estimate's terms are the formula shown.
"""

from __future__ import annotations

import posixpath
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from porttool.model import Diagnostic, Effort, Finding, FixStatus, Rule
from porttool.report import sorted_targets, status_counts
from porttool.report.effort import HOURS, KERNEL, PYTHON, Estimate, Term, level_of, python_estimate, scope_of
from porttool.report.kernel_triage import KernelItem, Triage
from porttool.report.scores import scores_from_findings

FORM_LABELS = {
    "cuda": "CUDA kernels (`__global__` functions) in .cu/.cuh files",
    "inline": "inline CUDA kernels (`load_inline`)",
    "triton": "Triton kernels",
    "build": "CUDA extension builds to rework",
}
ACTIONS = ("manual", "kernel", "review", "rewrite", "dispatch", "hint")
ACTION_TITLES = {
    "manual": "Port by hand",
    "kernel": "Port the custom kernels",
    "review": "Review the behaviour change, then `porttool rewrite --unsafe-fixes`",
    "rewrite": "Nothing to do by hand: `porttool rewrite` fixes these",
    "dispatch": "Already dispatches per backend: left as is",
    "hint": "Hints: nothing to fix, worth knowing on the target",
}


@dataclass(frozen=True)
class ActionGroup:
    """Findings of one rule that ask the same of a person."""

    action: str  # one of ACTIONS
    rule: Rule | None
    code: str
    findings: tuple[Finding, ...]
    level: Effort | None  # the effort each costs (None: costs nothing)
    hours: float

    @property
    def text(self) -> str:
        """What to do: the fix's title, behaviour change or guidance for the target."""
        first = self.findings[0]
        if self.action == "rewrite":
            return first.fix_title
        if self.action == "dispatch":
            return "The code already chooses per backend (an `if`/`elif` that tests CUDA and another backend); porttool leaves it as it is. Check that the branch the target takes is the right one."
        if self.action == "review":
            return f"{first.fix_title}. Behaviour change: {first.behaviour_change}" if first.behaviour_change else first.fix_title
        return first.guidance


@dataclass
class HeatRow:
    name: str  # a directory ("." for the top) or a file
    families: Counter[str] = field(default_factory=Counter)
    findings: int = 0
    python_hours: float = 0.0
    kernel_hours: float = 0.0
    program_hours: float = 0.0  # kernels in programs of their own (not part of the port)
    fixable: int = 0
    actionable: int = 0

    @property
    def hours(self) -> float:
        """The port's hours: Python and kernels, not programs of their own."""
        return self.python_hours + self.kernel_hours

    @property
    def score(self) -> float:
        return 100.0 if self.actionable == 0 else round(100.0 * self.fixable / self.actionable, 1)


@dataclass(frozen=True)
class TargetView:
    target: str
    findings: tuple[Finding, ...]
    by_status: dict[str, int]  # the scan summary's counts (status_counts)
    overall: dict[str, int | float]  # scores_from_findings of every finding
    python: dict[str, int | float]  # of the Python-scope findings
    kernel: dict[str, int | float]  # of the kernel-scope findings
    python_estimate: Estimate
    kernel_estimate: Estimate  # kernels reached from Python, built, or not linked
    program_estimate: Estimate  # kernels in programs of their own (standalone)
    groups: tuple[ActionGroup, ...]
    items: tuple[KernelItem, ...]
    other_kernel_findings: tuple[Finding, ...]
    dirs: tuple[HeatRow, ...]
    files: tuple[HeatRow, ...]
    families: tuple[str, ...]  # the heat map's columns, in rule-code order


@dataclass(frozen=True)
class PortReport:
    version: str
    roots: tuple[str, ...]
    files_scanned: int
    primary: str
    views: dict[str, TargetView]
    triage: Triage
    diagnostics: tuple[Diagnostic, ...]
    rules: dict[str, Rule]
    suppressed: int = 0

    @property
    def targets(self) -> list[str]:
        return sorted_targets(self.views)


def item_cost(item: KernelItem, target: str, rules: dict[str, Rule]) -> tuple[Effort, int]:
    rule = rules.get(item.code)
    return (rule.effort_for(target) if rule else Effort.HIGH), item.units


def target_view(target: str, findings: Sequence[Finding], triage: Triage, rules: dict[str, Rule]) -> TargetView:
    findings = tuple(sorted(findings, key=Finding.sort_key))
    python_findings = [f for f in findings if scope_of(f.code) == PYTHON]
    kernel_findings = [f for f in findings if scope_of(f.code) == KERNEL]
    cost: dict[int, float] = {}
    for f in python_findings:
        level = level_of(f, rules.get(f.code))
        cost[id(f)] = HOURS[level] if level else 0.0
    items = triage.for_target(target)
    kernel_terms: Counter[tuple[str, Effort]] = Counter()
    program_terms: Counter[tuple[str, Effort]] = Counter()
    programs: set[int] = set()  # findings of kernels in programs of their own
    for item in items:
        level, units = item_cost(item, target, rules)
        mine = item.findings_for(target)
        for f in mine:
            cost[id(f)] = 0.0
        cost[id(mine[0])] = units * HOURS[level]
        if item.reach == "standalone":
            programs.update(id(f) for f in mine)
        (program_terms if item.reach == "standalone" else kernel_terms)[(FORM_LABELS[item.form], level)] += units
    other = [f for f in triage.other_for(target)]
    for f in other:
        level = level_of(f, rules.get(f.code))
        cost[id(f)] = HOURS[level] if level else 0.0
        if level:
            kernel_terms[(f"other kernel-related findings ({f.code})", level)] += 1
    view_rows = _heat(findings, cost, programs, rules)
    return TargetView(
        target=target,
        findings=findings,
        by_status=status_counts(findings),
        overall=scores_from_findings(findings),
        python=scores_from_findings(python_findings),
        kernel=scores_from_findings(kernel_findings),
        python_estimate=python_estimate(python_findings, rules),
        kernel_estimate=Estimate(tuple(Term(what, level, n) for (what, level), n in sorted(kernel_terms.items(), key=lambda kv: (-HOURS[kv[0][1]], kv[0][0])))),
        program_estimate=Estimate(tuple(Term(what, level, n) for (what, level), n in sorted(program_terms.items(), key=lambda kv: (-HOURS[kv[0][1]], kv[0][0])))),
        groups=tuple(_groups(python_findings, other, cost, rules, items)),
        items=tuple(items),
        other_kernel_findings=tuple(other),
        dirs=view_rows[0],
        files=view_rows[1],
        families=view_rows[2],
    )


def _groups(python_findings: Sequence[Finding], other_kernel: Sequence[Finding], cost: dict[int, float], rules: dict[str, Rule], items: Sequence[KernelItem]) -> list[ActionGroup]:
    by_key: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in [*python_findings, *other_kernel]:
        action = {FixStatus.SAFE: "rewrite", FixStatus.UNSAFE: "review", FixStatus.MANUAL: "manual", FixStatus.NONE: "hint"}[f.status]
        if action == "manual" and scope_of(f.code) == KERNEL:
            action = "kernel"
        elif f.in_dispatch:
            action = "dispatch"
        by_key[(action, f.code)].append(f)
    groups = []
    for (action, code), found in by_key.items():
        level = level_of(found[0], rules.get(code))
        groups.append(ActionGroup(action, rules.get(code), code, tuple(found), level, sum(cost.get(id(f), 0.0) for f in found)))
    groups.sort(key=lambda g: (ACTIONS.index(g.action), -g.hours, -len(g.findings), g.code))
    return groups


def _heat(findings: Sequence[Finding], cost: dict[int, float], programs: set[int], rules: dict[str, Rule]) -> tuple[tuple[HeatRow, ...], tuple[HeatRow, ...], tuple[str, ...]]:
    dirs: dict[str, HeatRow] = {}
    files: dict[str, HeatRow] = {}
    family_order: dict[str, str] = {}
    for f in findings:
        rule = rules.get(f.code)
        family = (rule.family if rule else "") or "other"
        family_order.setdefault(family, f.code)
        family_order[family] = min(family_order[family], f.code)
        for row in (dirs.setdefault(posixpath.dirname(f.path) or ".", HeatRow(posixpath.dirname(f.path) or ".")), files.setdefault(f.path, HeatRow(f.path))):
            row.families[family] += 1
            row.findings += 1
            if id(f) in programs:
                row.program_hours += cost.get(id(f), 0.0)
            elif scope_of(f.code) == KERNEL:
                row.kernel_hours += cost.get(id(f), 0.0)
            else:
                row.python_hours += cost.get(id(f), 0.0)
                if f.status is not FixStatus.NONE:
                    row.actionable += 1
                    row.fixable += f.fixable
    order = lambda row: (-row.hours, -row.program_hours, -row.findings, row.name)  # noqa: E731
    families = tuple(sorted(family_order, key=lambda fam: family_order[fam]))
    return tuple(sorted(dirs.values(), key=order)), tuple(sorted(files.values(), key=order)), families


def build_report(*, version: str, roots: Sequence[str], files_scanned: int, primary: str, findings_by_target: Mapping[str, Sequence[Finding]], triage: Triage, diagnostics: Sequence[Diagnostic], rules: dict[str, Rule], suppressed: int = 0) -> PortReport:
    views = {t: target_view(t, fs, triage, rules) for t, fs in findings_by_target.items()}
    return PortReport(version, tuple(roots), files_scanned, primary, views, triage, tuple(diagnostics), rules, suppressed)
