"""The rewrite run: scan each file afresh, compute its verified port (nothing is written here),
and spread files over the process pool for large runs."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from porttool.model import Diagnostic, FileResult, Finding
from porttool.pool import batches, pooled
from porttool.ruleset.registry import Registry
from porttool.scan.analysis import Analysis, analyse
from porttool.scan.discovery import Candidate, display_path
from porttool.scan.findings import make_findings
from porttool.scan.run import ScanOptions, compiled, manifest_of, scan_one, sites_in_text
from porttool.scan.sources import read_source


PARALLEL_THRESHOLD = 48  # rewrite: below this many files, worker start-up costs more than it saves


@dataclass(frozen=True)
class RewriteOptions:
    scan: ScanOptions
    unsafe: bool = False
    mark_unfixed: bool = False


def rewrite_one(candidate: Candidate, options: RewriteOptions) -> FileResult:
    """Scan one file and compute its verified port (nothing is written here)."""
    from porttool.rewrite.verification import rewrite_text

    scan_options = options.scan
    rules = compiled(scan_options.registry)
    display = display_path(candidate.path, scan_options.root)
    if not candidate.path.name.endswith((".py", ".pyi", ".ipynb")):
        return scan_one(candidate, scan_options)
    source = read_source(candidate.path, display)
    if isinstance(source, Diagnostic):
        return FileResult(path=display, diagnostics=(source,))
    analysis = analyse(source, rules, keep_tree=True)
    if isinstance(analysis, Diagnostic):
        return FileResult(path=display, diagnostics=(analysis,))
    reported = analysis
    if manifest_of(candidate, rules) == "setup-py":  # its dependency lists are reported, never rewritten
        from porttool.scan.manifest_matcher import setup_py_sites

        reported = setup_py_sites(analysis, rules)
    findings = make_findings(reported, scan_options.registry, scan_options.target)
    base = FileResult(path=display, findings=findings, suppressed=len(reported.suppressed), sites=reported.sites)
    if not analysis.sites:
        return base
    text = analysis.text
    result = rewrite_text(
        text,
        analysis.sites,
        scan_options.registry,
        rules,
        scan_options.target,
        unsafe=options.unsafe,
        mark_unfixed=options.mark_unfixed,
        tree=analysis.tree,
    )
    diagnostics = tuple(
        Diagnostic("PT906", display, f"fixes of {code} were not applied: {why}" if code != "*" else f"no fixes applied: {why}")
        for code, why in result.rejected
    )
    new_text = result.text
    if source.is_notebook and new_text != text:
        from porttool.scan import notebooks

        try:
            new_text = notebooks.from_virtual(source.text, new_text)
        except notebooks.NotebookError as exc:
            return FileResult(path=display, findings=findings, sites=reported.sites, diagnostics=(Diagnostic("PT905", display, str(exc)),))
    elif source.is_notebook:
        new_text = source.text
    else:
        new_text = _encodable_markers(new_text, source.encoding)
    applied_ids = {(s.code, s.span) for s in result.applied}
    held_ids = {(s.code, s.span) for s in result.held_back}
    by_site = list(zip(analysis.sites, _findings_by_site(analysis, findings)))
    return FileResult(
        path=display,
        findings=findings,
        diagnostics=diagnostics,
        original=source.text,
        rewritten=new_text,
        applied=tuple(f for s, f in by_site if f is not None and (s.code, s.span) in applied_ids),
        held_back=tuple(f for s, f in by_site if f is not None and (s.code, s.span) in held_ids),
        suppressed=len(reported.suppressed),
        sites=reported.sites,
    )


_MARKER_LINE = re.compile(r"# porttool: TODO\(PT\d+\):[^\r\n]*")
_ASCII_FOR = str.maketrans({"→": "->", "…": "...", "—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "×": "x", "≥": ">=", "≤": "<="})


def _encodable_markers(text: str, encoding: str) -> str:
    """`--mark-unfixed` comments quote rule guidance (arrows, ellipses); in a file whose encoding
    lacks those characters (latin-1) they are spelled in ASCII, so the port can still be written."""
    try:
        text.encode(encoding)
        return text
    except (UnicodeEncodeError, LookupError):
        pass

    def spell(match: re.Match[str]) -> str:
        return match.group(0).translate(_ASCII_FOR).encode(encoding, "replace").decode(encoding)

    return _MARKER_LINE.sub(spell, text)


def _findings_by_site(analysis: Analysis, findings: tuple[Finding, ...]) -> list[Finding | None]:
    """Align findings with the sites they came from (KEEP sites have none)."""
    out: list[Finding | None] = []
    it = iter(findings)
    pending = next(it, None)
    for site in analysis.sites:
        if pending is not None and pending.code == site.code and pending.node_type == site.node_type:
            out.append(pending)
            pending = next(it, None)
        else:
            out.append(None)
    return out


def _rewrite_batch(args: tuple[list[Candidate], RewriteOptions]) -> list[FileResult]:
    batch, options = args
    return [rewrite_one(c, options) for c in batch]


def rewrite_paths(candidates: Sequence[Candidate], options: RewriteOptions, *, jobs: int | None = None) -> Iterator[FileResult]:
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or len(candidates) < PARALLEL_THRESHOLD:
        for candidate in candidates:
            yield rewrite_one(candidate, options)
        return
    for results in pooled(_rewrite_batch, ((list(b), options) for b in batches(candidates, jobs)), jobs):
        yield from results


def port_text(text: str, registry: Registry, target: str, *, unsafe: bool = False, mark_unfixed: bool = False):  # type: ignore[no-untyped-def]
    """The verified port of a Python source given as text (a `verification.RewriteResult`)."""
    from porttool.rewrite.verification import rewrite_text

    return rewrite_text(text, sites_in_text(text, registry), registry, compiled(registry), target, unsafe=unsafe, mark_unfixed=mark_unfixed)
