"""Which fixes a rewrite applies: per site, the rule's fix for the target, held back when unsafe
and not enabled, declined when the branch it guards keeps CUDA-only code, or a TODO marker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from porttool.model import Action, Applicability, FixStatus, Rule, Site, TargetFix
from porttool.ruleset.registry import Registry
from porttool.scan.guarded_branches import branch_status


@dataclass
class FixPlan:
    fixes: list[tuple[Site, Rule, TargetFix]] = field(default_factory=list)
    marks: list[tuple[Site, Rule, str]] = field(default_factory=list)
    held_back: list[Site] = field(default_factory=list)
    declined: list[tuple[Site, str]] = field(default_factory=list)


def plan_fixes(sites: Sequence[Site], registry: Registry, target: str, *, unsafe: bool, mark_unfixed: bool, skip: frozenset[str] = frozenset()) -> FixPlan:
    plan = FixPlan()
    for site in sites:
        rule = registry.by_code.get(site.code)
        if rule is None or site.in_dispatch:
            continue
        fix = rule.fix_for(target)
        in_branch, blocker = branch_status(site, sites, registry, target)
        if blocker is not None and (in_branch is FixStatus.MANUAL or not unsafe) and fix.action in (Action.REWRITE, Action.REMOVE):
            plan.declined.append((site, f"the branch it guards keeps CUDA-only code ({blocker.code} on line {blocker.span.line}); it stays a CUDA-only branch"))
            continue
        if fix.action in (Action.REWRITE, Action.REMOVE) and site.code not in skip:
            if fix.applicability is Applicability.UNSAFE and not unsafe:
                plan.held_back.append(site)
                if mark_unfixed:
                    plan.marks.append((site, rule, f"unsafe fix available (--unsafe-fixes): {fix.title}"))
            else:
                plan.fixes.append((site, rule, fix))
        elif mark_unfixed and fix.action is Action.MANUAL:
            plan.marks.append((site, rule, fix.guidance or rule.summary))
    return plan


def has_work(sites: Sequence[Site], registry: Registry, target: str, unsafe: bool, mark_unfixed: bool) -> bool:
    plan = plan_fixes(sites, registry, target, unsafe=unsafe, mark_unfixed=mark_unfixed)
    return bool(plan.fixes or plan.marks)
