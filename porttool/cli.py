"""The command line: parse flags, call the core, render, map errors to exit codes. No logic.

Exit codes: 0 clean, 1 findings at or above --fail-on remain (or a check failed), 2 usage,
configuration or internal error.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Iterator, List, Optional

import typer
from typer.core import TyperCommand

from porttool import __version__
from porttool.model import TARGETS

app = typer.Typer(
    name="porttool",
    help="Find CUDA-specific PyTorch code and port it to Trainium (neuron), portable torch.accelerator code, or neuron-xla.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class Target(str, Enum):
    neuron = "neuron"
    portable = "portable"
    neuron_xla = "neuron-xla"


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"


class Fmt(str, Enum):
    text = "text"
    concise = "concise"
    json = "json"
    sarif = "sarif"
    github = "github"
    gitlab = "gitlab"
    csv = "csv"


def _narrate(text: str) -> None:
    """Narration on stderr, after everything written to stdout so far: stdout is block-buffered
    in a pipe, so under `2>&1` a summary written before the flush would come before the data it
    describes ("diff above")."""
    sys.stdout.flush()
    sys.stderr.write(text)
    sys.stderr.flush()


def _err(message: str) -> None:
    _narrate(f"porttool: {message}\n")


@contextmanager
def _errors_to_exit_codes() -> Iterator[None]:
    from porttool.ruleset import RuleError
    from porttool.settings import ConfigError

    try:
        yield
    except RuleError as exc:
        _err(f"invalid rule file {exc}")
        raise typer.Exit(EXIT_ERROR)
    except ConfigError as exc:
        _err(f"invalid configuration: {exc}")
        raise typer.Exit(EXIT_ERROR)
    except UsageError as exc:
        _err(str(exc))
        raise typer.Exit(EXIT_ERROR)


class UsageError(Exception):
    pass


class _NeverRaised(Exception):
    pass


def _loaded_errors(*names: str) -> tuple[type[BaseException], ...]:
    """The exception classes `module:Class` of the modules imported so far (one not imported
    cannot have raised): an `except` clause that imports nothing."""
    found = tuple(getattr(sys.modules[m], c) for m, _, c in (n.partition(":") for n in names) if m in sys.modules)
    return found or (_NeverRaised,)


def _load(paths: list[Path], target: Optional[Target], select: list[str], ignore: list[str], rules_dir: list[Path], config: Optional[Path], *, cache: bool = True):  # type: ignore[no-untyped-def]
    from porttool.ruleset.registry import load_registry, validate_selectors
    from porttool.settings import find_config, load_settings

    config_file = config if config is not None else find_config(paths[0] if paths else Path.cwd())
    settings = load_settings(config_file)
    settings = settings.merged(
        target=target.value if target else None,
        select=tuple(select) or None,
        ignore=tuple(ignore) or None,
        rules_dirs=tuple(settings.rules_dirs) + tuple(rules_dir),
    )
    from porttool.caching import disabled_by_environment

    registry = load_registry(settings.rules_dirs, cache=cache and settings.cache and not disabled_by_environment())
    unknown = validate_selectors([*settings.select, *settings.ignore], registry)
    if unknown:
        raise UsageError(f"no rule matches selector(s): {', '.join(unknown)} (see `porttool rules`)")
    return settings, registry.select(settings.select, settings.ignore), registry


def _progress_bar(total: int):  # type: ignore[no-untyped-def]
    """A rich progress bar on stderr for long scans in a terminal; a no-op otherwise."""
    if total < 200 or not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True), transient=True)


PathsArg = typer.Argument(None, help="Files or directories (default: the current directory).")
TargetOpt = typer.Option(None, "--target", "-t", help="Port target: neuron (default), portable or neuron-xla.")
SelectOpt = typer.Option([], "--select", help="Rule codes, prefixes (PT1) or ALL to enable. Repeatable.")
IgnoreOpt = typer.Option([], "--ignore", help="Rule codes or prefixes to disable. Repeatable.")
RulesDirOpt = typer.Option([], "--rules-dir", help="An extra folder of rule files. Repeatable.")
ConfigOpt = typer.Option(None, "--config", help="pyproject.toml to read [tool.porttool] from.")


def run_scan(paths: list[Path], settings, registry, *, jobs: Optional[int] = None, only: Optional[set[Path]] = None):  # type: ignore[no-untyped-def]
    """Scan and collect every result into a `ScanReport` (what --baseline and --write-baseline need)."""
    from porttool.model import ScanReport
    from porttool.report.scores import portability_scores

    with _scan_results(paths, settings, registry, jobs=jobs, only=only) as results:
        collected = list(results)
    scores = portability_scores(collected, registry, TARGETS)
    return ScanReport(target=settings.target, results=tuple(collected), rules=tuple(registry), scores=scores, version=__version__)


@contextmanager
def _scan_results(paths: list[Path], settings, registry, *, jobs: Optional[int] = None, only: Optional[set[Path]] = None, ordered: bool = False, bar: bool = True):  # type: ignore[no-untyped-def]
    """The scan's results as a stream, with a progress bar in a terminal (unless `bar` is False)."""
    from porttool.scan.run import scan_results

    with scan_results(paths, settings, registry, os.getcwd(), jobs=jobs, only=only, ordered=ordered, progress=_progress_bar if bar else None) as results:
        yield results


def _stream_scan(paths: list[Path], settings, registry, fmt: Fmt, output_file: Optional[Path], statistics: bool, *, jobs: Optional[int] = None, only: Optional[set[Path]] = None):  # type: ignore[no-untyped-def]
    """Scan and write the report as results arrive (porttool.report.stream); memory stays flat.
    Returns the report's `Totals`."""
    from porttool.report.stream import ReportStream

    def write(stream, color):  # type: ignore[no-untyped-def]
        report = ReportStream(fmt.value, stream, target=settings.target, rules=tuple(registry), version=__version__, statistics=statistics, color=color)
        # A report streaming to the terminal is its own progress; a bar redrawn between its lines would garble them.
        bar = output_file is not None or not sys.stdout.isatty()
        with _scan_results(paths, settings, registry, jobs=jobs, only=only, ordered=True, bar=bar) as results:
            report.add_all(results)
        return report.finish()

    if output_file is None:
        return write(sys.stdout, None)
    from porttool.atomic_write import report_writer

    with contextlib.ExitStack() as stack:
        try:  # an interrupted scan leaves no half-written report
            stream = stack.enter_context(report_writer(output_file))
        except OSError as exc:
            raise UsageError(f"cannot write {output_file}: {exc.strerror or exc}")
        return write(stream, False)


def _write_report(fmt: Fmt, report, output_file: Optional[Path], statistics: bool) -> None:  # type: ignore[no-untyped-def]
    from porttool.report import render

    if output_file is None:
        render(fmt.value, report, sys.stdout, statistics=statistics, color=None)
        return
    from porttool.atomic_write import report_writer

    try:
        with report_writer(output_file) as stream:
            render(fmt.value, report, stream, statistics=statistics, color=False)  # type: ignore[arg-type]  # (a text-mode file)
    except OSError as exc:
        raise UsageError(f"cannot write {output_file}: {exc.strerror or exc}")


@app.command()
def scan(
    paths: Optional[List[Path]] = PathsArg,
    target: Optional[Target] = TargetOpt,
    select: List[str] = SelectOpt,
    ignore: List[str] = IgnoreOpt,
    rules_dir: List[Path] = RulesDirOpt,
    config: Optional[Path] = ConfigOpt,
    output_format: Fmt = typer.Option(Fmt.text, "--output-format", "-f", help="text, concise, json, sarif, github, gitlab (Code Quality) or csv."),
    output_file: Optional[Path] = typer.Option(None, "--output-file", "-o", help="Write the report here instead of stdout."),
    statistics: bool = typer.Option(False, "--statistics", help="Add per-rule counts."),
    fail_on: Optional[FailOn] = typer.Option(None, "--fail-on", help="Lowest severity that makes the exit code 1 (default: warning; hints alone pass)."),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 even when findings remain."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Worker processes (default: all cores)."),
    baseline_file: Optional[Path] = typer.Option(None, "--baseline", help="Fail only on findings not recorded in this baseline; report recorded ones that are gone."),
    write_baseline: Optional[Path] = typer.Option(None, "--write-baseline", help="Record today's findings in this file and exit 0."),
    changed_since: Optional[str] = typer.Option(None, "--changed-since", help="Scan only files changed since this git ref (plus untracked files)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Scan every file afresh; neither read nor write the result cache."),
) -> None:
    """Find every CUDA-specific construct and report it, with what can be fixed for the target."""
    from porttool.model import Severity

    with _errors_to_exit_codes():
        paths = list(paths or [Path(".")])
        missing = [p for p in paths if not p.exists() and not p.is_symlink()]
        if missing:
            raise UsageError(f"no such file or directory: {', '.join(str(p) for p in missing)}")
        settings, registry, _ = _load(paths, target, select, ignore, rules_dir, config, cache=not no_cache)
        if fail_on is not None:
            settings = settings.merged(fail_on=Severity(fail_on.value))
        if no_cache:
            settings = settings.merged(cache=False)
        try:
            only = None
            if changed_since is not None:
                from porttool.scan.changed_files import changed_files

                only = changed_files(changed_since, paths[0])
            baseline_file = baseline_file or settings.baseline
            if write_baseline is None and baseline_file is None:  # the common case: a streamed report
                totals = _stream_scan(paths, settings, registry, output_format, output_file, statistics, jobs=jobs, only=only)
                if output_format is not Fmt.text or output_file is not None:
                    n = totals.findings
                    _narrate(f"porttool: {totals.files_scanned} files, {n} finding{'s' * (n != 1)} for target {settings.target}\n")
                failing = totals.at_or_above(settings.fail_on.rank)
                if totals.diagnostics and not exit_zero:
                    raise typer.Exit(EXIT_FINDINGS)
                raise typer.Exit(EXIT_FINDINGS if failing and not exit_zero else EXIT_CLEAN)
            from porttool.scan import baseline  # (only here: a pre-commit run never imports it)

            report = run_scan(paths, settings, registry, jobs=jobs, only=only)
            if write_baseline is not None:
                entries = baseline.write(write_baseline, report.findings, [r.path for r in report.results], Path.cwd())
                _narrate(f"porttool: recorded {len(report.findings)} findings of {report.files_scanned} files in {write_baseline} ({len(entries)} entries)\n")
                raise typer.Exit(EXIT_CLEAN)
            comparison = None
            if baseline_file is not None:
                report, comparison = baseline.apply(report, baseline.load(baseline_file), baseline_file, Path.cwd())
        except _loaded_errors("porttool.scan.baseline:BaselineError", "porttool.scan.changed_files:ChangedFilesError") as exc:
            raise UsageError(str(exc))
        _write_report(output_format, report, output_file, statistics)
        if output_format is not Fmt.text or output_file is not None:
            n = len(report.findings)
            _narrate(f"porttool: {report.files_scanned} files, {n} finding{'s' * (n != 1)} for target {settings.target}\n")
        if comparison is not None and baseline_file is not None:
            _narrate(baseline.narration(comparison, baseline_file))
    threshold = settings.fail_on.rank
    failing = [f for f in report.findings if f.severity.rank >= threshold]
    if report.diagnostics and not exit_zero:
        raise typer.Exit(EXIT_FINDINGS)
    raise typer.Exit(EXIT_FINDINGS if failing and not exit_zero else EXIT_CLEAN)


class RewriteFmt(str, Enum):
    diff = "diff"
    json = "json"


@app.command()
def rewrite(
    paths: Optional[List[Path]] = PathsArg,
    target: Optional[Target] = TargetOpt,
    apply: bool = typer.Option(False, "--apply", help="Write the port in place (atomically)."),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="Write a ported copy of the tree here; the source is not touched."),
    unsafe_fixes: Optional[bool] = typer.Option(None, "--unsafe-fixes/--no-unsafe-fixes", help="Also apply fixes that change behaviour (each says how)."),
    select: List[str] = SelectOpt,
    ignore: List[str] = IgnoreOpt,
    rules_dir: List[Path] = RulesDirOpt,
    config: Optional[Path] = ConfigOpt,
    mark_unfixed: bool = typer.Option(False, "--mark-unfixed", help="Put a `# porttool: TODO(PTnnn): ...` comment above each site left for a human."),
    allow_dirty: bool = typer.Option(False, "--allow-dirty", help="Allow --apply on files with uncommitted git changes."),
    output_format: RewriteFmt = typer.Option(RewriteFmt.diff, "--output-format", "-f", help="diff (unified diff on stdout) or json."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Worker processes (default: all cores)."),
) -> None:
    """Port the code: print a unified diff (default), or write it with --apply / --out-dir."""
    from porttool.report import rewrite_summary
    from porttool.rewrite.git_status import dirty_files
    from porttool.rewrite.run import RewriteOptions, rewrite_paths
    from porttool.rewrite.write_back import WorkspaceError, apply_in_place, write_out_dir
    from porttool.scan.discovery import collect_candidates, display_path
    from porttool.scan.run import ScanOptions

    with _errors_to_exit_codes():
        if apply and out_dir is not None:
            raise UsageError("--apply and --out-dir exclude each other")
        paths = list(paths or [Path(".")])
        missing = [p for p in paths if not p.exists() and not p.is_symlink()]
        if missing:
            raise UsageError(f"no such file or directory: {', '.join(str(p) for p in missing)}")
        settings, registry, _ = _load(paths, target, select, ignore, rules_dir, config)
        unsafe = settings.unsafe_fixes if unsafe_fixes is None else unsafe_fixes
        candidates = collect_candidates(paths, settings.exclude, registry)
        options = RewriteOptions(ScanOptions(registry=registry, target=settings.target, root=os.getcwd()), unsafe=unsafe, mark_unfixed=mark_unfixed)
        results = sorted(rewrite_paths(candidates, options, jobs=jobs), key=lambda r: r.path)  # (diff and JSON in path order, whatever the arguments' order)
        sources = {display_path(c.path, os.getcwd()): c.path for c in candidates}
        changed = [r for r in results if r.changed]
        failures: list[tuple[str, str]] = []
        if apply:
            from porttool.atomic_write import clean_stale_temp_files

            for root in paths:  # temp files an interrupted earlier --apply may have left
                clean_stale_temp_files(root)
        if apply and changed:
            if not allow_dirty:
                dirty = dirty_files(sources[r.path] for r in changed)
                if dirty:
                    raise UsageError(
                        "refusing to --apply: these files have uncommitted changes (commit or stash them, or pass --allow-dirty): "
                        + ", ".join(dirty)
                    )
            failures = apply_in_place(changed, sources)
        elif out_dir is not None:
            try:
                failures = write_out_dir(results, sources, paths, out_dir)
            except WorkspaceError as exc:
                raise UsageError(str(exc))
        if output_format is RewriteFmt.json:
            rewrite_summary.render_json(results, settings.target, unsafe, sys.stdout, written=apply or out_dir is not None, failures=failures)
        elif not apply and out_dir is None:
            rewrite_summary.render_diff(results, sys.stdout)
        summary = io.StringIO()
        rewrite_summary.render_summary(results, settings.target, unsafe, summary, applied=apply, out_dir=out_dir, failures=failures)
        _narrate(summary.getvalue())
    problems = bool(failures) or any(r.diagnostics for r in results)
    raise typer.Exit(EXIT_FINDINGS if changed or problems else EXIT_CLEAN)


class Backend(str, Enum):
    auto = "auto"
    mock = "mock"
    neuron = "neuron"


class CheckFmt(str, Enum):
    text = "text"
    json = "json"


class Reference(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class CompareSide(str, Enum):
    original = "original"
    port = "port"


class _CheckCommand(TyperCommand):
    """`check PATH... -- COMMAND...`: everything after the first `--` is the command, never PATHs."""

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        if "--" in args:
            cut = args.index("--")
            ctx.meta["porttool_check_command"] = list(args[cut + 1 :])
            args = args[:cut]
        return super().parse_args(ctx, args)


@app.command(cls=_CheckCommand)
def check(
    ctx: typer.Context,
    paths: Optional[List[Path]] = PathsArg,
    target: Optional[Target] = TargetOpt,
    backend: Backend = typer.Option(Backend.auto, "--backend", help="auto (real Neuron when present, else the CPU mock), mock or neuron."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds before the command is killed."),
    python: Optional[str] = typer.Option(None, "--python", help="Python of the project's environment (default: the one in COMMAND, else this one)."),
    unsafe_fixes: bool = typer.Option(True, "--unsafe-fixes/--no-unsafe-fixes", help="Count findings fixable only with --unsafe-fixes as left over."),
    skip_static: bool = typer.Option(False, "--skip-static", help="Run only the command."),
    output_format: CheckFmt = typer.Option(CheckFmt.text, "--output-format", "-f", help="text or json."),
    config: Optional[Path] = ConfigOpt,
    compare: bool = typer.Option(False, "--compare", help="Also run the original and compare the numbers (loss, gradient norms, outputs) step by step."),
    original: Optional[str] = typer.Option(None, "--original", help="With --compare: the original, a git ref (default HEAD, checked out in a temporary worktree) or a directory."),
    reference: Reference = typer.Option(Reference.auto, "--reference", help="With --compare: where the original runs: auto (CUDA when present, else the CPU redirect), cpu or cuda."),
    high_precision: bool = typer.Option(True, "--high-precision/--no-high-precision", help="With --compare: also run the original with autocast and TF32 off when it uses reduced precision (the noise floor)."),
    only: Optional[CompareSide] = typer.Option(None, "--only", help="With --compare: run and record one side only (original or port; needs --save-records), for `porttool compare` elsewhere."),
    save_records: Optional[Path] = typer.Option(None, "--save-records", help="With --compare: write the records (one file per rank and run) into this directory."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="With --compare: draw the loss curves into this SVG file (default: into --save-records)."),
    tolerance_ratio: Optional[float] = typer.Option(None, "--tolerance-ratio", help="With --compare: how many times the original's own precision error the port may be off (default 3 in reduced precision, 2 in float32)."),
) -> None:
    """Prove the port: static checks of PATHs, then run `-- COMMAND` on the Neuron mock or SDK.

    Everything after `--` is the command, run in a subprocess with a timeout; porttool executes user
    code only here. With --compare the original runs too (on CUDA, or on the CPU through a CUDA
    redirect) and the numbers of both are compared. Exit 0 only when every stage passed.
    """
    from porttool.check import verdict
    from porttool.check.static import check_static
    from porttool.scan.discovery import collect_candidates
    from porttool.scan.run import ScanOptions

    command = list(ctx.meta.get("porttool_check_command", []))
    with _errors_to_exit_codes():
        if not paths and not command:
            paths = [Path(".")]
        paths = list(paths or [])
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise UsageError(f"no such file or directory: {', '.join(str(p) for p in missing)}")
        settings, registry, _ = _load(paths or [Path(".")], target, [], [], [], config)
        static = None
        if paths and not skip_static:
            candidates = collect_candidates(paths, settings.exclude, registry)
            static = check_static(candidates, ScanOptions(registry=registry, target=settings.target, root=os.getcwd()), unsafe=unsafe_fixes)
        run = None
        compared = None
        if compare and not command:
            raise UsageError("--compare needs the command to run after `--`")
        if command and compare:
            from porttool.check.compare.session import CompareOptions, CompareUsageError, compare_stage

            options = CompareOptions(original=original, reference=reference.value, high_precision=high_precision, only=only.value if only else None, save_records=save_records, plot=plot if plot is not None else (save_records / "loss-curves.svg" if save_records else None), ratio=tolerance_ratio, timeout=timeout, python=python, echo=output_format is CheckFmt.text)
            try:
                compared, run = compare_stage(command, target=settings.target, backend=backend.value, options=options)
            except CompareUsageError as exc:
                raise UsageError(str(exc))
        elif command:
            from porttool.check.runner import run_stage

            if output_format is CheckFmt.text:
                _narrate(f"porttool: running {' '.join(command)} (target {settings.target}, backend {backend.value})\n")
            run = run_stage(command, target=settings.target, backend=backend.value, timeout=timeout, python=python, echo=output_format is CheckFmt.text)
    if output_format is CheckFmt.json:
        verdict.render_json(static, run, settings.target, sys.stdout, compared)
    else:
        verdict.render_text(static, run, settings.target, sys.stdout, compared)
    passed = verdict.passed(static, run, compared)
    raise typer.Exit(EXIT_CLEAN if passed else EXIT_FINDINGS)


class PageFmt(str, Enum):
    html = "html"
    markdown = "markdown"


_PAGE_SUFFIXES = {".html": PageFmt.html, ".htm": PageFmt.html, ".md": PageFmt.markdown, ".markdown": PageFmt.markdown}


@app.command()
def report(
    paths: Optional[List[Path]] = PathsArg,
    target: Optional[Target] = TargetOpt,
    all_targets: bool = typer.Option(False, "--all-targets", help="Report every target (the page switches between them)."),
    output_file: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report here (report.html, report.md); default stdout."),
    page_format: Optional[PageFmt] = typer.Option(None, "--format", help="html (a self-contained page, the default) or markdown (for a PR or issue); default from the -o suffix."),
    select: List[str] = SelectOpt,
    ignore: List[str] = IgnoreOpt,
    rules_dir: List[Path] = RulesDirOpt,
    config: Optional[Path] = ConfigOpt,
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Worker processes (default: all cores)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Scan every file afresh; neither read nor write the result cache."),
) -> None:
    """A porting report: scores and effort estimates per target, a heat map, the findings grouped by
    the work they ask, and the custom kernels linked to the Python that reaches them."""
    with _errors_to_exit_codes():
        if all_targets and target is not None:
            raise UsageError("--target and --all-targets exclude each other")
        fmt = page_format or (_PAGE_SUFFIXES.get(output_file.suffix.lower()) if output_file is not None else None) or PageFmt.html
        if page_format is not None and output_file is not None and _PAGE_SUFFIXES.get(output_file.suffix.lower(), page_format) is not page_format:
            raise UsageError(f"--format {page_format.value} does not match the file name {output_file}")
        if output_file is None and fmt is PageFmt.html and sys.stdout.isatty():
            raise UsageError("the HTML report is a page, not terminal text: write it with -o report.html (or use --format markdown)")
        paths = list(paths or [Path(".")])
        missing = [p for p in paths if not p.exists() and not p.is_symlink()]
        if missing:
            raise UsageError(f"no such file or directory: {', '.join(str(p) for p in missing)}")
        settings, registry, _ = _load(paths, target, select, ignore, rules_dir, config, cache=not no_cache)
        if no_cache:
            settings = settings.merged(cache=False)
        from porttool.report.port_report import collect

        targets = list(TARGETS) if all_targets else [settings.target]
        page = collect(paths, settings, registry, targets, version=__version__, jobs=jobs, progress=_progress_bar)
        if fmt is PageFmt.html:
            from porttool.report.html_page import render as render_page
        else:
            from porttool.report.markdown_page import render as render_page
        if output_file is None:
            render_page(page, sys.stdout)
            sys.stdout.flush()
        else:
            from porttool.atomic_write import report_writer

            try:
                with report_writer(output_file) as stream:
                    render_page(page, stream)  # type: ignore[arg-type]  # (a text-mode file)
            except OSError as exc:
                raise UsageError(f"cannot write {output_file}: {exc.strerror or exc}")
        view = page.views[page.primary]
        where = f"wrote {output_file}" if output_file is not None else "report on stdout"
        sys.stderr.write(
            f"porttool report: {where} ({fmt.value}; {page.files_scanned} files; target {page.primary}: "
            f"{int(view.overall['sites'])} findings, Python port {float(view.python['score']):.1f}% fixable, "
            f"{len(page.triage.for_target(page.primary))} kernel items)\n"
        )


@app.command("compare")
def compare_cmd(
    original_records: Path = typer.Argument(..., help="Records of the original (from `check --compare --save-records DIR`; a records directory or one run's folder)."),
    port_records: Optional[Path] = typer.Argument(None, help="Records of the port (default: the port runs in ORIGINAL_RECORDS)."),
    output_format: CheckFmt = typer.Option(CheckFmt.text, "--output-format", "-f", help="text or json."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Draw the loss curves into this SVG file."),
    tolerance_ratio: Optional[float] = typer.Option(None, "--tolerance-ratio", help="How many times the original's own precision error the port may be off (default 3 in reduced precision, 2 in float32)."),
) -> None:
    """Compare saved records: an original recorded on one machine with a port recorded on another.

    Exit 0 when every port run agrees with the original, 1 when one diverges, 2 on unusable records.
    """
    import json

    from porttool.check.compare.records import RecordsError
    from porttool.check.compare.report import render_json, render_text
    from porttool.check.compare.session import CompareOptions, compare_saved

    with _errors_to_exit_codes():
        try:
            result = compare_saved(original_records, port_records or original_records, CompareOptions(plot=plot, ratio=tolerance_ratio, echo=False))
        except RecordsError as exc:
            raise UsageError(f"unusable records: {exc}")
    if output_format is CheckFmt.json:
        sys.stdout.write(json.dumps(render_json(result), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(result))
    raise typer.Exit(EXIT_CLEAN if result.passed else EXIT_FINDINGS)


class RulesFmt(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command("rules")
def rules_cmd(
    output_format: RulesFmt = typer.Option(RulesFmt.table, "--output-format", "-f"),
    rules_dir: List[Path] = RulesDirOpt,
    target: Optional[Target] = TargetOpt,
    select: List[str] = SelectOpt,
) -> None:
    """List the rules: what each finds, its severity, and what porttool does with it on each target."""
    from porttool.report import rule_docs
    from porttool.ruleset.registry import load_registry, validate_selectors

    with _errors_to_exit_codes():
        registry = load_registry(rules_dir)
        unknown = validate_selectors(select, registry)
        if unknown:
            raise UsageError(f"no rule matches selector(s): {', '.join(unknown)}")
    sys.stdout.write(rule_docs.rules_listing(registry.select(select), output_format.value, target.value if target else None))


@app.command()
def explain(code: str = typer.Argument(..., help="A rule code (PT001) or name (cuda-method-call).")) -> None:
    """Show a rule: what it finds, why it matters, before → after per target, fix safety."""
    from porttool.report import rule_docs
    from porttool.ruleset.registry import load_registry

    with _errors_to_exit_codes():
        registry = load_registry()
        rule = registry.get(code)
        if rule is None:
            raise UsageError(f"unknown rule {code!r} (see `porttool rules`)")
    sys.stdout.write(rule_docs.explain(rule))


def version_callback(value: bool) -> None:
    if value:
        sys.stdout.write(f"porttool {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True, help="Show the version and exit."),
) -> None:
    """porttool: move PyTorch code off CUDA."""


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)
