"""The scan run: per file read → prefilter → parse → match → findings, for every candidate.

One bad file never stops a run: every problem is a value (`Diagnostic`) in that file's result.
Files are spread over processes for large runs (porttool.pool), unchanged ones come from the
result cache; results stream back in candidate order.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from porttool.model import Diagnostic, FileResult, Site, Span
from porttool.pool import batches, pooled, use_pool
from porttool.ruleset.registry import Registry
from porttool.scan.analysis import Analysis, analyse
from porttool.scan.discovery import Candidate, CandidateList, collect_candidates, display_path, ordered_candidates
from porttool.scan.findings import make_findings
from porttool.scan.rule_index import CompiledRules
from porttool.scan.sources import SourceFile, read_source
from porttool.scan.suppressions import Suppressions

if TYPE_CHECKING:
    from porttool.scan.result_cache import ScanCache
    from porttool.settings import Settings


@dataclass(frozen=True)
class ScanOptions:
    """Everything a worker needs to scan one file (picklable, so spawn-safe)."""

    registry: Registry
    target: str
    root: str  # paths are displayed relative to this directory when below it


_COMPILED: dict[str, CompiledRules] = {}


def compiled(registry: Registry) -> CompiledRules:
    """The matcher index for a registry, built once per process (keyed by the rules' content)."""
    key = registry.signature
    rules = _COMPILED.get(key)
    if rules is None:
        rules = _COMPILED[key] = CompiledRules.build(registry)
    return rules


def file_sites_for(path: Path, display: str, rules: CompiledRules) -> tuple[Site, ...]:
    """Sites for non-Python files matched by `file` rules (a `.cu` kernel in the tree)."""
    return tuple(
        Site(code=rule.code, span=Span(1, 0, 1, 0), node_type="file", name=path.name)
        for rule in rules.file_rules(path.name)
    )


def scan_one(candidate: Candidate, options: ScanOptions) -> FileResult:
    rules = compiled(options.registry)
    display = display_path(candidate.path, options.root)
    file_sites = file_sites_for(candidate.path, display, rules)
    if file_sites:
        placeholder = SourceFile(candidate.path, display, b"", "", "utf-8", False, "\n")
        findings = make_findings(Analysis(placeholder, "", file_sites, (), Suppressions()), options.registry, options.target)
        return FileResult(path=display, findings=findings, sites=file_sites)
    kind = manifest_of(candidate, rules)
    if kind is not None and kind != "setup-py":
        return scan_manifest(candidate.path, display, kind, options)
    if not candidate.path.name.endswith((".py", ".pyi", ".ipynb")):
        return FileResult(path=display)
    source = read_source(candidate.path, display)
    if isinstance(source, Diagnostic):
        return FileResult(path=display, diagnostics=(source,))
    analysis = analyse(source, rules)
    if isinstance(analysis, Diagnostic):
        return FileResult(path=display, diagnostics=(analysis,))
    if kind == "setup-py":
        from porttool.scan.manifest_matcher import setup_py_sites

        analysis = setup_py_sites(analysis, rules)
    return FileResult(
        path=display,
        findings=make_findings(analysis, options.registry, options.target),
        suppressed=len(analysis.suppressed),
        sites=analysis.sites,
    )


def manifest_of(candidate: Candidate, rules: CompiledRules) -> str | None:
    """The dependency-manifest format of a candidate when manifest rules are selected, else None."""
    if not rules.manifests:
        return None
    if candidate.kind is not None:
        return candidate.kind
    name = candidate.path.name
    if name.endswith((".py", ".pyi", ".ipynb")) and name != "setup.py":
        return None  # (the common case, without importing the manifests package)
    from porttool.scan.manifests import manifest_kind

    return manifest_kind(name, candidate.path.parent.name)


def scan_manifest(path: Path, display: str, kind: str, options: ScanOptions) -> FileResult:
    """One dependency manifest's findings (porttool.scan.manifest_matcher)."""
    from porttool.scan.manifest_matcher import analyse_manifest

    source = read_source(path, display)
    if isinstance(source, Diagnostic):
        return FileResult(path=display, diagnostics=(source,))
    analysis = analyse_manifest(source, kind, compiled(options.registry))
    if isinstance(analysis, Diagnostic):
        return FileResult(path=display, diagnostics=(analysis,))
    return FileResult(path=display, findings=make_findings(analysis, options.registry, options.target), suppressed=len(analysis.suppressed), sites=analysis.sites)


def _scan_batch(args: tuple[list[Candidate], ScanOptions]) -> list[FileResult]:
    batch, options = args
    return [scan_one(c, options) for c in batch]


def scan_paths(
    candidates: Sequence[Candidate],
    options: ScanOptions,
    *,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    cache: ScanCache | None = None,
) -> Iterator[FileResult]:
    """Scan every candidate; yields results in candidate order, streaming.

    With a `cache` (porttool.scan.result_cache), unchanged files come from it and only the rest are scanned.
    Worker processes are used only when the work is worth their start-up (`use_pool`).
    """
    if cache is not None:
        from porttool.scan.result_cache import cached_scan

        def scan_misses(misses: Sequence[Candidate]) -> Iterator[FileResult]:
            return scan_paths(misses, options, jobs=jobs)

        root = options.root
        kinds = getattr(candidates, "kinds", None)
        if kinds is None:
            kinds = {os.fspath(c.path): c.kind for c in candidates if c.kind is not None}

        def key_name(path: str) -> str:  # a file read as a manifest its name does not say is keyed apart
            shown = display_path(path, root)
            return f"{shown}\0{kinds[path]}" if kinds and path in kinds else shown

        yield from cached_scan(candidates, key_name, scan_misses, cache, progress, lambda c: scan_one(c, options))
        return
    jobs = jobs or os.cpu_count() or 1
    if not use_pool(candidates, jobs):
        for candidate in candidates:
            yield scan_one(candidate, options)
            if progress:
                progress(1)
        return
    from porttool.scan.result_codec import loads_many

    for packed in pooled(_scan_batch_packed, ((list(b), options) for b in batches(candidates, jobs)), jobs):
        results = loads_many(packed)
        yield from results
        if progress:
            progress(len(results))


def _scan_batch_packed(args: tuple[list[Candidate], ScanOptions]) -> bytes:
    """A worker's batch, packed as the cache packs results (cheaper to send than pickled objects)."""
    from porttool.scan.result_codec import dumps_many

    return dumps_many(_scan_batch(args))


def sites_in_file_text(text: str, name: str, registry: Registry) -> tuple[Site, ...]:
    """Every unsuppressed site in `text` read as a file called `name` (a dependency manifest,
    `setup.py`, or Python), for tests and embedding."""
    rules = compiled(registry)
    candidate = Candidate(Path(name), explicit=True)
    kind = manifest_of(candidate, rules)
    source = SourceFile(Path(name), name, text.encode(), text, "utf-8", False, "\n")
    if kind is not None and kind != "setup-py":
        from porttool.scan.manifest_matcher import analyse_manifest

        analysis = analyse_manifest(source, kind, rules)
    else:
        analysis = analyse(source, rules)
        if kind == "setup-py" and not isinstance(analysis, Diagnostic):
            from porttool.scan.manifest_matcher import setup_py_sites

            analysis = setup_py_sites(analysis, rules)
    if isinstance(analysis, Diagnostic):
        raise SyntaxError(analysis.message)
    return analysis.sites


def sites_in_text(text: str, registry: Registry) -> tuple[Site, ...]:
    """Every unsuppressed site in a Python source given as text (for tests and embedding)."""
    source = SourceFile(Path("<text>.py"), "<text>", text.encode(), text, "utf-8", False, "\n")
    analysis = analyse(source, compiled(registry))
    if isinstance(analysis, Diagnostic):
        raise SyntaxError(analysis.message)
    return analysis.sites


@contextlib.contextmanager
def scan_results(
    paths: Sequence[Path],
    settings: Settings,
    registry: Registry,
    root: str,
    *,
    jobs: int | None = None,
    only: set[Path] | None = None,
    ordered: bool = False,
    progress: Callable[[int], Any] | None = None,
) -> Iterator[Iterator[FileResult]]:
    """The whole scan's results as a stream (in displayed-path order with `ordered`, as a streamed
    report needs), with the result cache open around it (when the settings allow one).

    `progress(total)`, when given, makes a progress display (a context manager with `add_task` and
    `advance`, as rich's `Progress`) or returns None for none."""
    candidates: CandidateList | list[Candidate]
    if ordered:
        candidates = ordered_candidates(paths, settings.exclude, registry, root, only)
    else:
        candidates = collect_candidates(paths, settings.exclude, registry)
        if only is not None:  # --changed-since: discovery as usual, narrowed to the changed files
            candidates = [c for c in candidates if c.path.resolve() in only]
    options = ScanOptions(registry=registry, target=settings.target, root=root)
    cache = None
    if settings.cache:
        from porttool.scan.result_cache import ScanCache

        cache = ScanCache.open(registry.signature, settings.target)
    display = progress(len(candidates)) if progress is not None else None
    try:
        if display is None:
            yield scan_paths(candidates, options, jobs=jobs, cache=cache)
        else:
            with display:
                task = display.add_task("scanning", total=len(candidates))
                yield scan_paths(candidates, options, jobs=jobs, progress=lambda n: display.advance(task, n), cache=cache)
    finally:
        if cache is not None:
            cache.close()
