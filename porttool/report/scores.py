"""Portability scores: per target, the findings a scan for that target reports, by what porttool
can do with them, and the share it can fix.

Counted from each site's `scan.verdicts.verdict`, the same judgement that gives a finding its
status, so the selected target's row always equals the scan's own summary (findings, safe,
unsafe, manual, hints) and another target's row equals what `scan --target T` would report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from porttool.model import FileResult, Finding, FixStatus, Site
from porttool.ruleset.registry import Registry
from porttool.scan.verdicts import plain, verdict

COLUMN = {FixStatus.SAFE: "safe", FixStatus.UNSAFE: "unsafe", FixStatus.MANUAL: "manual", FixStatus.NONE: "hint"}
KEYS = ("sites", "safe", "unsafe", "manual", "hint")


class ScoreTally:
    """Counters for the scores, fed one file's sites at a time (a streamed scan keeps only these).

    Most sites are judged by their rule's default alone: those are counted by rule code and
    judged once per code at the end. A site in a dispatch or guarding a branch is judged with its
    file's other sites as it comes."""

    def __init__(self, registry: Registry, targets: Sequence[str]) -> None:
        self.registry = registry
        self.targets = tuple(targets)
        self.codes: Counter[str] = Counter()
        self.judged: dict[str, Counter[str]] = {t: Counter() for t in self.targets}

    def add(self, sites: Sequence[Site]) -> None:
        codes = self.codes
        for site in sites:
            if plain(site):
                codes[site.code] += 1
                continue
            for target in self.targets:
                judged = verdict(site, sites, self.registry, target)
                if judged is not None:
                    self.judged[target][COLUMN[judged.status]] += 1

    def scores(self) -> dict[str, dict[str, int | float]]:
        scores: dict[str, dict[str, int | float]] = {}
        for target in self.targets:
            counts = Counter(self.judged[target])
            for code, n in self.codes.items():
                rule = self.registry.by_code.get(code)
                if rule is None or rule.fix_for(target).action.value == "keep":
                    continue
                counts[COLUMN[rule.fix_for(target).status]] += n
            row: dict[str, int | float] = {key: counts[key] for key in KEYS[1:]}
            row = {"sites": sum(counts[key] for key in KEYS[1:]), **row}
            actionable = int(row["sites"]) - int(row["hint"])
            row["score"] = 100.0 if actionable == 0 else round(100.0 * (int(row["safe"]) + int(row["unsafe"])) / actionable, 1)
            scores[target] = row
        return scores


def portability_scores(results: Iterable[FileResult], registry: Registry, targets: Sequence[str]) -> dict[str, dict[str, int | float]]:
    """Per target: findings (`sites`), how many are safe, unsafe, manual or hints, and the share of
    the non-hints porttool can fix (`score`, 100.0 when there are none)."""
    tally = ScoreTally(registry, targets)
    for result in results:
        tally.add(result.sites)
    return tally.scores()


def scores_from_findings(findings: Iterable[Finding]) -> dict[str, int | float]:
    """One target's score from that target's findings: each finding is a site, counted by the fix
    status the scan gave it (a site in a per-backend dispatch is a hint, a fix that a CUDA-only
    branch blocks is manual), so the numbers are the scan summary's own. The score is the share of
    sites needing action (all but hints) that porttool fixes, safe or unsafe."""
    counts = {"sites": 0, "safe": 0, "unsafe": 0, "manual": 0, "hint": 0}
    for finding in findings:
        counts["sites"] += 1
        counts[COLUMN[finding.status]] += 1
    actionable = counts["sites"] - counts["hint"]
    score = 100.0 if actionable == 0 else round(100.0 * (counts["safe"] + counts["unsafe"]) / actionable, 1)
    return {**counts, "score": score}
