"""Per-file orchestration of a scan: read → prefilter → parse → match → findings.

One bad file never stops a run: every problem is a value (`Diagnostic`) in that file's result.
Files are spread over processes for large runs; results stream back in a stable order.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from porttool.branches import branch_status
from porttool.discovery import Candidate, discover
from porttool.model import Diagnostic, FileResult, Finding, FixStatus, Severity, Site, Span
from porttool.registry import Registry
from porttool.scanner import CompiledRules, scan_tree
from porttool.sources import SourceFile, read_source
from porttool.suppression import Suppressions, parse_suppressions

if TYPE_CHECKING:
    from porttool.cache import ScanCache

PARALLEL_THRESHOLD = 48  # rewrite: below this many files, worker start-up costs more than it saves
T = TypeVar("T")
R = TypeVar("R")


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


def display_path(path: Path | str, root: str) -> str:
    """The path as reported: relative to `root` when below it, else as given (POSIX separators)."""
    name = os.fspath(path)
    if os.sep == "/" and not name.startswith("/") and root == os.getcwd():
        relative = os.path.normpath(name)  # what relpath gives here, without its two abspaths
    else:
        try:
            relative = os.path.relpath(name, root)  # relpath makes both absolute (cheaper than pathlib)
        except ValueError:  # another drive on Windows
            return Path(name).as_posix()
    return Path(name).as_posix() if relative.startswith("..") else relative.replace(os.sep, "/")


@dataclass(frozen=True)
class Analysis:
    """A parsed source and the sites in it; shared by scan and rewrite."""

    source: SourceFile
    text: str  # the Python text scanned: the file's, or a notebook's joined code cells
    sites: tuple[Site, ...]
    suppressed: tuple[Site, ...]
    suppressions: Suppressions
    cell_of_line: Callable[[int], tuple[int | None, int]] | None = None
    tree: ast.Module | None = None  # the text's `ast`, kept only when asked (a rewrite reuses it)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a tree is built and walked: an `ast` tree has no
    cycles (refcounting frees it), but its millions of nodes trigger collections that cost ~14% of
    a scan's CPU (measured on the torch corpus with gc.callbacks). Re-enabled afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def analyse(source: SourceFile, rules: CompiledRules, *, keep_tree: bool = False) -> Analysis | Diagnostic:
    """Find every site in a decoded source (a notebook's code cells included). With `keep_tree`
    the parsed `ast` comes back in the analysis (a rewrite needs it; a scan lets it go at once)."""
    text, cell_of_line = source.text, None
    if source.is_notebook:
        from porttool import notebook

        try:
            virtual = notebook.to_virtual(source.text)
        except notebook.NotebookError as exc:
            return Diagnostic("PT905", source.display, str(exc))
        text, cell_of_line = virtual.source, virtual.cell_of_line
    suppressions = parse_suppressions(text)
    if suppressions.skip_file or not rules.may_match(text):
        return Analysis(source, text, (), (), suppressions, cell_of_line)
    with gc_paused():
        try:
            tree = ast.parse(text, filename=source.display)
        except SyntaxError as exc:
            return _syntax_error(source, text, exc, cell_of_line)
        except (ValueError, RecursionError, MemoryError) as exc:
            return Diagnostic("PT902", source.display, f"cannot parse: {exc}")
        sites = scan_tree(text, tree, rules)
        kept_tree = tree if keep_tree else None
        del tree  # freed here (unless kept), while collection is still off: no collector pass over its nodes
    kept = tuple(s for s in sites if not suppressions.suppresses(s.code, s.span.line))
    dropped = tuple(s for s in sites if suppressions.suppresses(s.code, s.span.line))
    return Analysis(source, text, kept, dropped, suppressions, cell_of_line, kept_tree)


def _syntax_error(source: SourceFile, text: str, exc: SyntaxError, cell_of_line: Callable[[int], tuple[int | None, int]] | None) -> Diagnostic:
    line, col = exc.lineno or 1, (exc.offset or 1) - 1
    where = f"line {line}"
    if cell_of_line is not None:
        cell, line = cell_of_line(line)
        where = f"cell {cell}, line {line}"
    hint = " (Python 2 code?)" if re.search(r"^\s*print\s+[\"'\w]", text, re.M) else ""
    return Diagnostic("PT902", source.display, f"syntax error at {where}: {exc.msg}{hint}", line, max(col, 0))


def fingerprint(code: str, snippet: str, occurrence: int) -> str:
    """A finding's stable id within its file: the rule, the matched code with whitespace
    normalised, and which occurrence of that same code in the file it is (0, 1, ...).

    No line numbers, so edits elsewhere in the file keep it; no path either, because the path as
    displayed depends on the working directory: consumers key on (file, fingerprint) themselves
    (a baseline entry, a SARIF result's location).
    """
    normal = re.sub(r"\s+", " ", snippet).strip()
    return hashlib.sha256(f"{code}\0{normal}\0{occurrence}".encode()).hexdigest()[:20]


def make_findings(analysis: Analysis, registry: Registry, target: str) -> tuple[Finding, ...]:
    """Turn target-independent sites into this target's findings (KEEP actions drop out)."""
    if not analysis.sites:
        return ()  # most files of a large tree: skip splitting their text into lines
    lines = re.split(r"\r\n|\r|\n", analysis.text)
    findings: list[Finding] = []
    seen: dict[tuple[str, str], int] = {}
    for site in analysis.sites:
        rule = registry.by_code.get(site.code)
        if rule is None:
            continue
        fix = rule.fix_for(target)
        if fix.action.value == "keep":
            continue
        severity, status = rule.severity_for(target), fix.status
        message = _message(rule.message or rule.summary, site)
        if site.in_dispatch:
            severity, status = Severity.INFO, FixStatus.NONE
            message += " (already dispatches per backend; left as is)"
        elif site.branch is not None and status in (FixStatus.SAFE, FixStatus.UNSAFE):
            in_branch, blocker = branch_status(site, analysis.sites, registry, target)
            if in_branch is FixStatus.MANUAL and blocker is not None:
                status = FixStatus.MANUAL
                message += f" (the branch it guards keeps CUDA-only code, {blocker.code} on line {blocker.span.line}; port that first)"
            elif in_branch is FixStatus.UNSAFE:
                status = FixStatus.UNSAFE
        snippet_text = _span_text(lines, site.span)
        occurrence = seen.get((site.code, snippet_text), 0)
        seen[(site.code, snippet_text)] = occurrence + 1
        span, cell = site.span, None
        if analysis.cell_of_line is not None:
            cell, line = analysis.cell_of_line(span.line)
            _, end_line = analysis.cell_of_line(span.end_line)
            span = Span(line, span.column, end_line, span.end_column)
        findings.append(
            Finding(
                code=rule.code,
                rule=rule.name,
                message=message,
                path=analysis.source.display,
                span=span,
                severity=severity,
                target=target,
                status=status,
                fix_title=fix.title,
                guidance=fix.guidance,
                behaviour_change=fix.behaviour_change,
                snippet=lines[site.span.line - 1].strip() if site.span.line - 1 < len(lines) else "",
                fingerprint=fingerprint(rule.code, snippet_text, occurrence),
                node_type=site.node_type,
                in_dispatch=site.in_dispatch,
                cell=cell,
            )
        )
    return tuple(findings)


_MESSAGE_FIELD = re.compile(r"\{(name|value)\}")


def _message(template: str, site: Site) -> str:
    """Fill a rule message's `{name}` and `{value}`. Not `str.format`: a rule file is data, and
    `{name.__class__...}` must neither reach into objects nor crash the run."""
    return _MESSAGE_FIELD.sub(lambda m: str(getattr(site, m.group(1))), template)


def _span_text(lines: list[str], span: Span) -> str:
    if span.line == span.end_line:
        return lines[span.line - 1][span.column : span.end_column] if span.line - 1 < len(lines) else ""
    chunk = lines[span.line - 1 : span.end_line]
    if not chunk:
        return ""
    chunk[0] = chunk[0][span.column :]
    chunk[-1] = chunk[-1][: span.end_column]
    return "\n".join(chunk)


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
    if not candidate.path.name.endswith((".py", ".pyi", ".ipynb")):
        return FileResult(path=display)
    source = read_source(candidate.path, display)
    if isinstance(source, Diagnostic):
        return FileResult(path=display, diagnostics=(source,))
    analysis = analyse(source, rules)
    if isinstance(analysis, Diagnostic):
        return FileResult(path=display, diagnostics=(analysis,))
    return FileResult(
        path=display,
        findings=make_findings(analysis, options.registry, options.target),
        suppressed=len(analysis.suppressed),
        sites=analysis.sites,
    )


def _scan_batch(args: tuple[list[Candidate], ScanOptions]) -> list[FileResult]:
    batch, options = args
    return [scan_one(c, options) for c in batch]


def collect_candidates(paths: Sequence[Path], excludes: Sequence[str], registry: Registry) -> list[Candidate]:
    file_suffixes = sorted({g.lstrip("*") for r in registry for g in r.match.get("globs", ()) if r.match["kind"] == "file"})
    return list(discover(paths, excludes=excludes, extra_suffixes=file_suffixes))


class CandidateList(Sequence[Candidate]):
    """Candidates held as path strings: a few dozen bytes each where a `Candidate` with its `Path`
    takes a few hundred, which at 100k files is most of a scan's memory. Items are made on access."""

    __slots__ = ("_explicit", "_paths")

    def __init__(self, paths: list[str], explicit: bytes) -> None:
        self._paths = paths
        self._explicit = explicit

    def __len__(self) -> int:
        return len(self._paths)

    def __getitem__(self, index):  # type: ignore[no-untyped-def,override]
        if isinstance(index, slice):
            return CandidateList(self._paths[index], self._explicit[index])
        return Candidate(Path(self._paths[index]), bool(self._explicit[index]))

    def __iter__(self) -> Iterator[Candidate]:
        for path, explicit in zip(self._paths, self._explicit):
            yield Candidate(Path(path), bool(explicit))

    @property
    def names(self) -> list[str]:
        """The paths as strings (no `Candidate` made)."""
        return self._paths

    def pick(self, indices: Iterable[int]) -> CandidateList:
        """The candidates at these indices, still compact."""
        chosen = list(indices)
        return CandidateList([self._paths[i] for i in chosen], bytes(self._explicit[i] for i in chosen))


def ordered_candidates(
    paths: Sequence[Path], excludes: Sequence[str], registry: Registry, root: str, only: set[Path] | None = None
) -> CandidateList:
    """`collect_candidates`, sorted by displayed path (the order a streamed report needs: reports
    sort findings by path as a string, which is not the walk's order) and held compactly.
    `only` keeps just those files (resolved paths), as `--changed-since` asks."""
    file_suffixes = sorted({g.lstrip("*") for r in registry for g in r.match.get("globs", ()) if r.match["kind"] == "file"})
    names: list[str] = []
    explicit: set[str] = set()  # files named on the command line (a handful)
    for candidate in discover(paths, excludes=excludes, extra_suffixes=file_suffixes):
        if only is not None and candidate.path.resolve() not in only:
            continue
        name = os.fspath(candidate.path)
        names.append(name)
        if candidate.explicit:
            explicit.add(name)
    names.sort(key=lambda name: display_path(name, root))
    return CandidateList(names, bytes(name in explicit for name in names) if explicit else bytes(len(names)))


def scan_paths(
    candidates: Sequence[Candidate],
    options: ScanOptions,
    *,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    cache: ScanCache | None = None,
) -> Iterator[FileResult]:
    """Scan every candidate; yields results in candidate order, streaming.

    With a `cache` (porttool.cache), unchanged files come from it and only the rest are scanned.
    Worker processes are used only when the work is worth their start-up (`use_pool`).
    """
    if cache is not None:
        from porttool.cache import cached_scan

        def scan_misses(misses: Sequence[Candidate]) -> Iterator[FileResult]:
            return scan_paths(misses, options, jobs=jobs)

        root = options.root
        yield from cached_scan(candidates, lambda path: display_path(path, root), scan_misses, cache, progress, lambda c: scan_one(c, options))
        return
    jobs = jobs or os.cpu_count() or 1
    if not use_pool(candidates, jobs):
        for candidate in candidates:
            yield scan_one(candidate, options)
            if progress:
                progress(1)
        return
    from porttool.cache import loads_many

    for packed in _pooled(_scan_batch_packed, ((list(b), options) for b in _batches(candidates, jobs)), jobs):
        results = loads_many(packed)
        yield from results
        if progress:
            progress(len(results))


def _scan_batch_packed(args: tuple[list[Candidate], ScanOptions]) -> bytes:
    """A worker's batch, packed as the cache packs results (cheaper to send than pickled objects)."""
    from porttool.cache import dumps_many

    return dumps_many(_scan_batch(args))


# Two spawned workers cost about 0.3-0.5 CPU s more than one process (interpreter start-up,
# imports, the rules, pickling every batch both ways), so the pool pays only when there is enough
# text to parse. The measure is the bytes of the files (`os.stat`, counted only up to the
# threshold). Measured on 2 cores (`-j 1` vs a forced pool at `-j 2`, `--no-cache`), torch subsets:
# 1.0 MB 0.35 vs 0.64 CPU s; 2.6 MB (the TorchFix comparison) 0.69 vs 1.04; 5.8 MB 1.38 vs 1.88;
# 11 MB 2.72 vs 3.36. What the pool buys is wall time on a quiet machine (the 46 MB torch corpus:
# 12.5 s at -j 1, 6.35 s at -j 2); on a loaded one it buys nothing. The threshold keeps small
# scans (a pre-commit run, the TorchFix comparison) in one process.
POOL_MIN_BYTES = 4 * 1024 * 1024
POOL_MIN_FILES = 8  # fewer files than this never go to a pool, whatever their size


def use_pool(candidates: Sequence[Candidate], jobs: int) -> bool:
    """Whether scanning these candidates in `jobs` worker processes is worth starting them."""
    if jobs <= 1 or len(candidates) < POOL_MIN_FILES:
        return False
    total = 0
    for candidate in candidates:
        try:
            total += os.stat(candidate.path).st_size
        except OSError:
            continue
        if total >= POOL_MIN_BYTES:
            return True
    return False


def _pooled(function: Callable[[T], R], tasks: Iterable[T], jobs: int) -> Iterator[R]:
    """`function` over `tasks` in a spawn pool of `jobs` workers; results in task order. At most a
    few tasks per worker are in flight, so finished results never pile up ahead of the consumer."""
    import concurrent.futures
    import multiprocessing
    from collections import deque

    context = multiprocessing.get_context("spawn")
    window = max(2, jobs * IN_FLIGHT_PER_WORKER)
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
        pending: deque[concurrent.futures.Future[R]] = deque()
        todo = iter(tasks)
        try:
            for task in todo:
                pending.append(pool.submit(function, task))
                if len(pending) >= window:
                    break
            while pending:
                result = pending.popleft().result()
                for task in todo:
                    pending.append(pool.submit(function, task))
                    break
                yield result
        finally:
            for future in pending:
                future.cancel()


IN_FLIGHT_PER_WORKER = 8  # batches per worker submitted ahead: enough that one slow batch does not idle the others


def exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this worker when porttool itself is gone (killed with SIGKILL, a
    worker would otherwise wait on its task queue forever, holding that queue's pipe open itself)."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="porttool-parent-watch", daemon=True).start()


def _batches(items: Sequence[Candidate], jobs: int) -> Iterator[Sequence[Candidate]]:
    """Slices of the candidates for the pool, made as it asks for them (a `CandidateList` stays
    compact): a few per worker, 8 to 64 files each."""
    size = max(8, min(64, len(items) // (jobs * 8) or 1))
    for i in range(0, len(items), size):
        yield items[i : i + size]


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


@dataclass(frozen=True)
class RewriteOptions:
    scan: ScanOptions
    unsafe: bool = False
    mark_unfixed: bool = False


def rewrite_one(candidate: Candidate, options: RewriteOptions) -> FileResult:
    """Scan one file and compute its verified port (nothing is written here)."""
    from porttool.apply import rewrite_text

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
    findings = make_findings(analysis, scan_options.registry, scan_options.target)
    base = FileResult(path=display, findings=findings, suppressed=len(analysis.suppressed), sites=analysis.sites)
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
        from porttool import notebook

        try:
            new_text = notebook.from_virtual(source.text, new_text)
        except notebook.NotebookError as exc:
            return FileResult(path=display, findings=findings, sites=analysis.sites, diagnostics=(Diagnostic("PT905", display, str(exc)),))
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
        suppressed=len(analysis.suppressed),
        sites=analysis.sites,
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
    for results in _pooled(_rewrite_batch, ((list(b), options) for b in _batches(candidates, jobs)), jobs):
        yield from results


def sites_in_text(text: str, registry: Registry) -> tuple[Site, ...]:
    """Every unsuppressed site in a Python source given as text (for tests and embedding)."""
    source = SourceFile(Path("<text>.py"), "<text>", text.encode(), text, "utf-8", False, "\n")
    analysis = analyse(source, compiled(registry))
    if isinstance(analysis, Diagnostic):
        raise SyntaxError(analysis.message)
    return analysis.sites


def port_text(text: str, registry: Registry, target: str, *, unsafe: bool = False, mark_unfixed: bool = False):  # type: ignore[no-untyped-def]
    """The verified port of a Python source given as text (an `apply.RewriteResult`)."""
    from porttool.apply import rewrite_text

    return rewrite_text(text, sites_in_text(text, registry), registry, compiled(registry), target, unsafe=unsafe, mark_unfixed=mark_unfixed)
