"""Portability scores: per target, how many sites porttool can fix and the share that is."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from porttool.model import FileResult, Finding, FixStatus
from porttool.ruleset.registry import Registry


def portability_scores(results: Iterable[FileResult], registry: Registry, targets: Sequence[str]) -> dict[str, dict[str, int | float]]:
    """Per target: sites reported, sites porttool can fix (safe, unsafe), and the share fixable."""
    from collections import Counter

    codes = Counter(s.code for r in results for s in r.sites if not s.in_dispatch)
    return scores_from_counts(codes, registry, targets)


def scores_from_counts(site_codes: Mapping[str, int], registry: Registry, targets: Sequence[str]) -> dict[str, dict[str, int | float]]:
    """`portability_scores` from the number of sites (not in dispatch) per rule code, so that a
    streamed scan needs only those counters."""
    scores: dict[str, dict[str, int | float]] = {}
    for target in targets:
        counts = {"sites": 0, "safe": 0, "unsafe": 0, "manual": 0, "hint": 0}
        for code, n in site_codes.items():
            rule = registry.by_code.get(code)
            if rule is None:
                continue
            fix = rule.fix_for(target)
            if fix.action.value == "keep":
                continue
            counts["sites"] += n
            counts[{"safe": "safe", "unsafe": "unsafe", "manual": "manual", "none": "hint"}[fix.status.value]] += n
        actionable = counts["sites"] - counts["hint"]
        score = 100.0 if actionable == 0 else round(100.0 * (counts["safe"] + counts["unsafe"]) / actionable, 1)
        scores[target] = {**counts, "score": score}
    return scores


def scores_from_findings(findings: Iterable[Finding]) -> dict[str, int | float]:
    """One target's score from that target's findings: each finding is a site, counted by the fix
    status the scan gave it (a site in a per-backend dispatch is a hint, a fix that a CUDA-only
    branch blocks is manual), so the numbers are the scan summary's own. The score is the share of
    sites needing action (all but hints) that porttool fixes, safe or unsafe."""
    counts = {"sites": 0, "safe": 0, "unsafe": 0, "manual": 0, "hint": 0}
    for finding in findings:
        counts["sites"] += 1
        counts[_STATUS_KEYS[finding.status]] += 1
    actionable = counts["sites"] - counts["hint"]
    score = 100.0 if actionable == 0 else round(100.0 * (counts["safe"] + counts["unsafe"]) / actionable, 1)
    return {**counts, "score": score}


_STATUS_KEYS = {FixStatus.SAFE: "safe", FixStatus.UNSAFE: "unsafe", FixStatus.MANUAL: "manual", FixStatus.NONE: "hint"}
