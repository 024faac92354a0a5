"""How fixable a CUDA branch is: a guard may be ported only if the branch it guards is.

A guard is any test that holds on CUDA only: `x == "cuda"` (PT010), `torch.cuda.is_available()`
(PT101), `torch.cuda.device_count() > 1` (PT102), `dist.is_nccl_available()`, ... Rewriting it to
test for the new device makes its branch reachable there (`if torch.accelerator.is_available():
major, _ = torch.cuda.get_device_capability()` crashes at import on Neuron), so it is sound only
when every CUDA-specific site inside the branch is ported too. The scan (`matcher._note_branch`)
records each guard's CUDA branch: the body (the `else` for a negated guard), what an `and`
evaluates after it, and the rest of the block after an early exit. Used by the scan (the
finding's status) and the rewrite (the fix is declined), so both agree.
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
    first, last = site.branch[:2], site.branch[2:]
    worst, blocker = FixStatus.SAFE, None
    for other in sites:
        if other is site or other.in_dispatch or not first <= (other.span.line, other.span.column) or not (other.span.end_line, other.span.end_column) <= last:
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
