"""Which fixes a rewrite applies: per site, the rule's fix for the target, held back when unsafe
(the fix, or the branch it guards: `scan.verdicts`) and not enabled, declined when the branch it
guards keeps CUDA-only code, or a TODO marker. The scan reports the same statuses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from porttool.model import Action, Applicability, FixStatus, Rule, Site, TargetFix
from porttool.ruleset.registry import Registry
from porttool.scan.verdicts import verdict


@dataclass
class FixPlan:
    fixes: list[tuple[Site, Rule, TargetFix]] = field(default_factory=list)
    marks: list[tuple[Site, Rule, str]] = field(default_factory=list)
    held_back: list[Site] = field(default_factory=list)
    declined: list[tuple[Site, str]] = field(default_factory=list)


def plan_fixes(sites: Sequence[Site], registry: Registry, target: str, *, unsafe: bool, mark_unfixed: bool, skip: frozenset[str] = frozenset()) -> FixPlan:
    plan = FixPlan()
    for site in sites:
        judged = verdict(site, sites, registry, target)
        if judged is None or site.in_dispatch or site.gate:
            continue
        rule = registry.by_code[site.code]
        fix = rule.fix_for(target)
        rewrites = fix.action in (Action.REWRITE, Action.REMOVE)
        if rewrites and judged.status is FixStatus.MANUAL and judged.blocker is not None:
            blocker = judged.blocker
            plan.declined.append((site, f"the branch it guards keeps CUDA-only code ({blocker.code} on line {blocker.span.line}); it stays a CUDA-only branch"))
        elif rewrites and site.code not in skip:
            if judged.status is FixStatus.UNSAFE and not unsafe:
                plan.held_back.append(site)
                if mark_unfixed:
                    why = fix.title if fix.applicability is Applicability.UNSAFE or judged.blocker is None else f"{fix.title} (the branch it guards holds unsafe fixes, {judged.blocker.code} on line {judged.blocker.span.line})"
                    plan.marks.append((site, rule, f"unsafe fix available (--unsafe-fixes): {why}"))
            else:
                plan.fixes.append((site, rule, fix))
        elif mark_unfixed and fix.action is Action.MANUAL:
            plan.marks.append((site, rule, fix.guidance or rule.summary))
    return plan


def has_work(sites: Sequence[Site], registry: Registry, target: str, unsafe: bool, mark_unfixed: bool) -> bool:
    plan = plan_fixes(sites, registry, target, unsafe=unsafe, mark_unfixed=mark_unfixed)
    return bool(plan.fixes or plan.marks)
