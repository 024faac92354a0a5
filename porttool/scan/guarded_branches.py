"""How fixable a CUDA branch is: a `x == "cuda"` test may be ported only if its branch is.

Rewriting `if device.type == "cuda":` to test for the new device makes the branch reachable
there, so it is sound only when every CUDA-specific site inside the branch is ported too. Used by
the scan (the finding's status) and the rewrite (the fix is declined), so both agree.
"""

from __future__ import annotations

from collections.abc import Sequence

from porttool.model import Action, FixStatus, Site
from porttool.ruleset.registry import Registry


def branch_status(site: Site, sites: Sequence[Site], registry: Registry, target: str) -> tuple[FixStatus, Site | None]:
    """The least fixable status among the sites in the branch `site` guards, and that site.

    SAFE when the branch holds nothing left CUDA-specific (or `site` guards no branch).
    """
    if site.branch is None:
        return FixStatus.SAFE, None
    first, last = site.branch
    worst, blocker = FixStatus.SAFE, None
    for other in sites:
        if other is site or other.in_dispatch or not first <= other.span.line <= last:
            continue
        rule = registry.by_code.get(other.code)
        if rule is None:
            continue
        fix = rule.fix_for(target)
        if fix.action is Action.MANUAL:
            return FixStatus.MANUAL, other
        if fix.status is FixStatus.UNSAFE and worst is FixStatus.SAFE:
            worst, blocker = FixStatus.UNSAFE, other
    return worst, blocker
