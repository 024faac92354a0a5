"""`porttool report`'s pipeline: scan for each target asked, index the kernels, build the page's
content (porttool.report.page_model). The renderers then only read that content.

The scans are `porttool scan`'s own (porttool.scan.run.scan_results, with its result cache), one
per target: a finding's status is per target, and the page's counts are the scan's counts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from porttool.model import FileResult, Finding
from porttool.report.kernel_triage import build_triage
from porttool.report.page_model import PortReport, build_report
from porttool.ruleset.registry import Registry
from porttool.scan.discovery import PYTHON_SUFFIXES, discover, display_path
from porttool.scan.kernel_project import index_kernels
from porttool.scan.native_sources import NATIVE_SUFFIXES
from porttool.scan.run import scan_results
from porttool.settings import Settings


def scan_target(paths: Sequence[Path], settings: Settings, registry: Registry, target: str, root: str, jobs: int | None, progress: Callable[[int], Any] | None = None) -> list[FileResult]:
    with scan_results(paths, settings.merged(target=target), registry, root, jobs=jobs, ordered=True, progress=progress) as results:
        return list(results)


def native_files(paths: Sequence[Path], settings: Settings, root: str) -> list[str]:
    """The project's CUDA and C/C++ files (as displayed), found as the scan finds its files."""
    found = []
    for candidate in discover(paths, excludes=settings.exclude, extra_suffixes=NATIVE_SUFFIXES):
        if candidate.path.name.endswith(NATIVE_SUFFIXES):
            found.append(display_path(candidate.path, root))
    return sorted(found)


def collect(paths: Sequence[Path], settings: Settings, registry: Registry, targets: Sequence[str], *, version: str, jobs: int | None = None, progress: Callable[[int], Any] | None = None) -> PortReport:
    """`progress` is `scan_results`'s progress display factory (a bar per target's scan in a terminal)."""
    root = os.getcwd()
    results_by_target = {t: scan_target(paths, settings, registry, t, root, jobs, progress) for t in targets}
    primary = settings.target if settings.target in results_by_target else targets[0]
    results = results_by_target[primary]
    python = [r.path for r in results if r.path.endswith(PYTHON_SUFFIXES)]
    index = index_kernels(python, native_files(paths, settings, root))
    findings_by_target: dict[str, list[Finding]] = {t: [f for r in rs for f in r.findings] for t, rs in results_by_target.items()}
    triage = build_triage((f for fs in findings_by_target.values() for f in fs), index)
    return build_report(
        version=version,
        roots=[display_path(p, root) if str(p) != "." else "." for p in paths],
        files_scanned=len(results),
        primary=primary,
        findings_by_target=findings_by_target,
        triage=triage,
        diagnostics=sorted((d for r in results for d in r.diagnostics), key=lambda d: (d.path, d.line, d.code)),
        rules={r.code: r for r in registry},
        suppressed=sum(r.suppressed for r in results),
    )
