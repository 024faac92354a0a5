"""What one site is, for one target: reported or not, its severity and fix status, and why.

The single source of every count porttool shows: a finding's status (`findings.make_findings`),
the portability table of every target (`report.scores`) and what a rewrite applies, holds back or
declines (`rewrite.planning`) all come from `verdict`, so the numbers on one screen agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from porttool.model import Action, FixStatus, Severity, Site
from porttool.ruleset.registry import Registry
from porttool.scan.capability_gates import GRAPH_FEATURE, MESSAGE_FEATURE
from porttool.scan.guarded_branches import branch_status

DISPATCH_NOTE = " (already dispatches per backend; left as is)"
BRANCH_NOTE = "the branch it guards keeps CUDA-only code"
GATE_NOTE = "a capability gate"


class Verdict:
    """(A plain class: this module is on every scan's start-up path, and a dataclass costs ~0.5 ms to define.)"""

    __slots__ = ("severity", "status", "note", "blocker")

    def __init__(self, severity: Severity, status: FixStatus, note: str = "", blocker: Site | None = None) -> None:
        self.severity = severity
        self.status = status
        self.note = note  # appended to the finding's message
        self.blocker = blocker  # the site in the guarded branch that made the status worse

    @property
    def fixable(self) -> bool:
        return self.status is FixStatus.SAFE or self.status is FixStatus.UNSAFE


def verdict(site: Site, sites: Sequence[Site], registry: Registry, target: str) -> Verdict | None:
    """`site` for `target`, among the file's `sites`; None when the target keeps it (not reported).

    - inside a per-backend dispatch: a hint, never rewritten;
    - a capability gate (`use_fused = device_type == "cuda"`: `capability_gates`): a hint, never
      rewritten (the CUDA-only feature stays off on the new device);
    - a guard (`x == "cuda"`, `torch.cuda.is_available()`, ...: `guarded_branches`) whose branch
      keeps CUDA-only code: manual (port the branch first);
      whose branch holds only unsafe fixes: unsafe (rewriting the test makes the branch run);
    - otherwise the rule's fix for the target.
    """
    rule = registry.by_code.get(site.code)
    if rule is None:
        return None
    fix = rule.fix_for(target)
    if fix.action is Action.KEEP:
        return None
    severity, status = rule.severity_for(target), fix.status
    if site.in_dispatch:
        return Verdict(Severity.INFO, FixStatus.NONE, DISPATCH_NOTE)
    if site.gate and fix.action in (Action.REWRITE, Action.REMOVE):
        if site.gate == GRAPH_FEATURE:
            return Verdict(Severity.INFO, FixStatus.NONE, f" ({GATE_NOTE}: a test on {GRAPH_FEATURE}, which name the device the model was traced on; left testing for CUDA)")
        if site.gate == MESSAGE_FEATURE:
            return Verdict(Severity.INFO, FixStatus.NONE, f" ({GATE_NOTE}: its branch says the feature requires CUDA; left testing for CUDA, so it stays off on the new device)")
        return Verdict(Severity.INFO, FixStatus.NONE, f" ({GATE_NOTE} for {site.gate}, which is CUDA-only; left testing for CUDA, so it stays off on the new device)")
    if site.branch is not None and status in (FixStatus.SAFE, FixStatus.UNSAFE):
        in_branch, blocker = branch_status(site, sites, registry, target)
        if in_branch is FixStatus.MANUAL and blocker is not None:
            note = f" ({BRANCH_NOTE}, {blocker.code} on line {blocker.span.line}; port that first)"
            return Verdict(severity, FixStatus.MANUAL, note, blocker)
        if in_branch is FixStatus.UNSAFE:
            return Verdict(severity, FixStatus.UNSAFE, "", blocker)
    return Verdict(severity, status)


def plain(site: Site) -> bool:
    """A site whose verdict is its rule's default for every target (no dispatch, no branch): the
    scores count these by rule code alone."""
    return not site.in_dispatch and site.branch is None and not site.gate
