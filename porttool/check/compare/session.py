"""``porttool check --compare``: run the original and the port, record their numbers, judge them.

1. The original (``original.py``: a git ref in a temporary worktree, or a directory) runs the
   command *as written*: on a CUDA device when one is present (``--reference auto``, or ``cuda``),
   else on the CPU through the CUDA redirect (``inject/porttool_cuda_redirect.py``).
2. When that run computed in reduced precision (autocast, half parameters), its high-precision
   twin runs too (autocast off, TF32 off): the distance between the two is the noise floor.
3. The port runs as ``porttool check`` runs it (``runner.run_stage``: the neuron mock or a real
   Neuron device, plain CPU and the mock for ``portable``), tripwire included.
4. Every run records its numbers (``inject/porttool_records.py``); ``judge.compare_runs`` compares
   each port run with the original.

All runs get the same ``PYTHONHASHSEED`` (0 unless set) and, in every process, Python's ``random``
and NumPy's global generator seeded with 0 before the program runs (a program's own seeds win).
``only="original"`` / ``"port"`` makes and saves one side's records, for ``porttool compare A B``
on another machine.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

from porttool.check.compare import records as rec
from porttool.check.compare.raw_lines import collect
from porttool.check.compare.judge import compare_runs
from porttool.check.compare.original import (
    OriginalError,
    OriginalTree,
    map_command,
    map_environment,
    original_tree,
    project_root,
)
from porttool.check.compare.precision import run_precision
from porttool.check.compare.report import CompareResult, write_plot
from porttool.check.runner import run_once, run_stage
from porttool.check.runtime_report import RunReport, RunStageResult

RECORDS_ENV = "PORTTOOL_RECORDS_DIR"
REFERENCES = ("auto", "cpu", "cuda")
ONLY = ("original", "port")
# run_stage's run label -> the PORTTOOL_CHECK_MODE it ran under (the records' folder)
_PORT_MODES = {"mock": "mock", "cpu": "tripwire", "neuron": "tripwire", "xla": "tripwire"}

_CUDA_PROBE = ("import json, torch; print('PORTTOOL_CUDA=' + json.dumps("
               "[bool(torch.cuda.is_available()), int(torch.cuda.device_count())]))")


@dataclass(frozen=True)
class CompareOptions:
    original: str | None = None  # a git ref (default HEAD) or a directory
    reference: str = "auto"  # where the original runs: auto | cpu | cuda
    high_precision: bool = True
    only: str | None = None  # "original" / "port": record one side only
    save_records: Path | None = None
    plot: Path | None = None  # an .svg file (a port label is added when several ports run)
    ratio: float | None = None  # k of the tolerance (default: 3 reduced precision, 2 float32)
    timeout: float = 600
    python: str | None = None
    echo: bool = True


class CompareUsageError(Exception):
    pass


def _narrate(options: CompareOptions, text: str) -> None:
    if options.echo:
        sys.stderr.write(f"porttool: {text}\n")


def _needed_devices(command: list[str]) -> int:
    """GPUs a command asks for: torchrun's --nproc_per_node (1 otherwise)."""
    for i, arg in enumerate(command):
        for flag in ("--nproc_per_node", "--nproc-per-node"):
            if arg == flag and i + 1 < len(command) and command[i + 1].isdigit():
                return int(command[i + 1])
            if arg.startswith(flag + "=") and arg.split("=", 1)[1].isdigit():
                return int(arg.split("=", 1)[1])
    return 1


def _cuda_devices(python: str, env: dict[str, str], cwd: Path) -> int:
    try:
        done = subprocess.run([python, "-c", _CUDA_PROBE], env=env, cwd=cwd, capture_output=True,
                              text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    for line in done.stdout.splitlines():
        if line.startswith("PORTTOOL_CUDA="):
            available, count = json.loads(line.split("=", 1)[1])
            return int(count) if available else 0
    return 0


def _python(command: list[str], options: CompareOptions) -> str:
    if options.python:
        return options.python
    first = os.path.basename(command[0])
    if first.startswith("python") and not first.endswith(".py"):
        return shutil.which(command[0]) or sys.executable
    return shutil.which("python3") or sys.executable


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONHASHSEED", "0")
    env.pop(RECORDS_ENV, None)
    return env


def _info(role: str, label: str, backend: str, report: RunReport, root: Path, cwd: Path,
          precision: str) -> rec.RunInfo:
    return rec.RunInfo(
        role=role, label=label, backend=backend, simulated=report.simulated, precision=precision,
        command=report.command, root=str(root), cwd=str(cwd.relative_to(root)) if cwd.is_relative_to(root) else str(cwd),
        versions=report.versions, host=socket.gethostname(), exit_code=report.exit_code,
        passed=report.exit_code == 0 and not report.timed_out,
        failure=None if report.exit_code == 0 and not report.timed_out else
        ("timed out" if report.timed_out else f"exit status {report.exit_code}"),
        notes=tuple(n.replace(str(root) + os.sep, "") for n in report.notes))


def _tail(report: RunReport, lines: int = 12) -> str:
    text = report.output_tail.rstrip().splitlines()[-lines:]
    return "\n".join("      " + t for t in text)


def _run_original(command: list[str], tree: OriginalTree, options: CompareOptions, raw: Path,
                  *, cuda: bool, high: bool) -> tuple[rec.RunRecords, RunReport]:
    mode = "reference" if cuda else "redirect"
    role = "original-high-precision" if high else "original"
    label = "cuda" if cuda else "cpu redirect"
    folder = raw / role
    env = map_environment(_base_env(), tree)
    extra = {RECORDS_ENV: str(folder)}
    if high:
        extra["PORTTOOL_HIGH_PRECISION"] = "1"
    argv = map_command(command, tree)
    _narrate(options, f"running the original{' at high precision' if high else ''} "
                      f"({'on CUDA' if cuda else 'on the CPU through the CUDA redirect'}): "
                      f"{' '.join(argv)} in {tree.cwd}")
    report = run_once(argv, label=role, mode=mode, extra_env=extra, env=env, cwd=tree.cwd,
                             timeout=options.timeout, python=options.python, echo=options.echo)
    report = replace(report, backend="cuda" if cuda else "cpu-redirect")
    info = _info(role, label, "cuda" if cuda else "cpu-redirect", report, tree.root, tree.cwd,
                 "high" if high else "as written")
    return collect(folder / mode, info), report


def _imported_from_port(run: rec.RunRecords, tree: OriginalTree) -> list[str]:
    base = str(tree.port_root).rstrip(os.sep) + os.sep
    ours = str(tree.root).rstrip(os.sep) + os.sep
    found = sorted({f for r in run.ranks for f in r.modules if f.startswith(base) and not f.startswith(ours)})
    return found


def _port_runs(stage: RunStageResult, raw: Path, cwd: Path, root: Path) -> list[rec.RunRecords]:
    runs = []
    for report in stage.runs:
        mode = _PORT_MODES.get(report.label, "tripwire")
        info = _info("port", report.label, report.backend, report, root, cwd, "as written")
        runs.append(collect(raw / "port" / mode, info))
    return runs


def _plot_path(base: Path, label: str, several: bool) -> Path:
    if base.suffix.lower() != ".svg":
        base = base / "porttool-compare.svg" if base.is_dir() or not base.suffix else base.with_suffix(".svg")
    return base.with_name(f"{base.stem}-{label.replace(' ', '-')}{base.suffix}") if several else base


def judge(original: rec.RunRecords | None, high: rec.RunRecords | None,
          ports: list[rec.RunRecords], options: CompareOptions, *, problems: list[str],
          notes: list[str], data: list[str], records_dir: str | None) -> CompareResult:
    """Compare every port run with the original; write the plots."""
    comparisons = []
    plots: list[tuple[str, str]] = []
    if options.only is None and original is not None:
        for port in ports:
            c = compare_runs(original, port, high, ratio=options.ratio)
            comparisons.append(c)
            if options.plot is not None:
                path = write_plot(c, _plot_path(options.plot, port.info.label, len(ports) > 1))
                plots.append((port.info.label, str(path)))
    return CompareResult(original, high, tuple(ports), tuple(comparisons), tuple(problems),
                         tuple(dict.fromkeys(notes)), tuple(plots), records_dir, options.only,
                         tuple(data))


def compare_stage(command: list[str], *, target: str, backend: str, options: CompareOptions,
                  cwd: Path | None = None) -> tuple[CompareResult, RunStageResult | None]:
    """Run the original and the port of ``command``; return the comparison and the port's run
    stage (its tripwire verdict counts as in ``porttool check``)."""
    if options.reference not in REFERENCES:
        raise CompareUsageError(f"--reference {options.reference!r}: expected one of {', '.join(REFERENCES)}")
    if options.only is not None and options.only not in ONLY:
        raise CompareUsageError(f"--only {options.only!r}: expected original or port")
    if options.only is not None and options.save_records is None:
        raise CompareUsageError(f"--only {options.only} makes records for a later `porttool "
                                "compare`: give --save-records DIR")
    cwd = (cwd or Path.cwd()).resolve()
    port_root, _ = project_root(cwd)
    problems: list[str] = []
    notes: list[str] = []
    data: list[str] = []
    raw = Path(tempfile.mkdtemp(prefix="porttool-records-"))
    original = high = None
    stage: RunStageResult | None = None
    ports: list[rec.RunRecords] = []
    try:
        try:
            context = original_tree(options.original, cwd) if options.only != "port" else nullcontext(None)
            with context as tree:
                if tree is not None:
                    data.extend(tree.data_lines())
                    if tree.same_source:
                        notes.append(f"the original ({tree.description}) and the working tree have "
                                     "the same tracked files: this compares the code with itself "
                                     "(commit the original and port after it, or pass --original)")
                    original, high = _reference_runs(command, tree, options, raw, problems, notes)
        except OriginalError as exc:
            raise CompareUsageError(str(exc)) from exc
        if options.only != "original":
            env = _base_env()
            env[RECORDS_ENV] = str(raw / "port")
            _narrate(options, f"running the port (target {target}): {' '.join(command)}")
            stage = run_stage(command, target=target, backend=backend, timeout=options.timeout,
                              python=options.python, cwd=cwd, env=env, echo=options.echo)
            ports = _port_runs(stage, raw, cwd, port_root)
            for port in ports:
                if not port.info.passed:
                    problems.append(f"the port ({port.info.label}) failed: {port.info.failure}")
            if stage.status == "skipped":
                problems.append(f"the port did not run: {stage.reason}")
        records_dir = None
        if options.save_records is not None:
            for run in [original, high, *ports]:
                if run is not None:
                    rec.save(run, options.save_records)
            records_dir = str(options.save_records)
        return judge(original, high, ports, options, problems=problems, notes=notes, data=data,
                     records_dir=records_dir), stage
    finally:
        shutil.rmtree(raw, ignore_errors=True)


def _reference_runs(command: list[str], tree: OriginalTree, options: CompareOptions, raw: Path,
                    problems: list[str], notes: list[str]) -> tuple[rec.RunRecords, rec.RunRecords | None]:
    cuda = False
    if options.reference != "cpu":
        need = _needed_devices(command)
        found = _cuda_devices(_python(command, options), map_environment(_base_env(), tree), tree.cwd)
        cuda = found >= need
        if options.reference == "cuda" and not cuda:
            raise CompareUsageError(f"--reference cuda: {found} CUDA device(s) visible, the command "
                                    f"needs {need}")
        if found and not cuda:
            notes.append(f"{found} CUDA device(s) visible but the command needs {need}: the "
                         "original ran on the CPU redirect")
    original, report = _run_original(command, tree, options, raw, cuda=cuda, high=False)
    if not original.info.passed:
        problems.append(f"the original failed ({original.info.label}): {original.info.failure}\n"
                        f"{_tail(report)}")
    high = None
    if options.high_precision and original.info.passed and run_precision(original).reduced:
        high, report = _run_original(command, tree, options, raw, cuda=cuda, high=True)
        if not high.info.passed:
            notes.append(f"the high-precision twin failed ({high.info.failure}); tolerances "
                         "come from dtypes only")
    for run in (original, high):
        if run is None:
            continue
        imported = _imported_from_port(run, tree)
        if imported:
            problems.append(f"the {run.info.role} run imported the port's code: "
                            f"{', '.join(imported[:5])} (an editable install or a PYTHONPATH entry "
                            "outside the project?); it did not run the original")
    changed = tree.modified_links()
    if changed:
        problems.append("the original modified files of your working tree that both runs read "
                        f"(linked into its checkout): {', '.join(changed[:8])}; the port then "
                        "read the original's output -- point the command's outputs elsewhere")
    return original, high


def compare_saved(reference: Path, port: Path, options: CompareOptions) -> CompareResult:
    """``porttool compare A B``: the original's records (A) against the port's (B)."""
    runs_a = rec.load_dir(reference)
    runs_b = rec.load_dir(port)
    originals = [r for r in runs_a if r.info.role == "original"]
    highs = [r for r in runs_a if r.info.role == "original-high-precision"]
    ports = [r for r in runs_b if r.info.role == "port"]
    if len(originals) != 1:
        raise rec.RecordsError(f"{reference}: expected the records of one original run, found "
                               f"{len(originals)}")
    if not ports:
        raise rec.RecordsError(f"{port}: no port records (folders port-*/ with rank*.json)")
    problems = [f"the original failed when it was recorded: {originals[0].info.failure}"] \
        if not originals[0].info.passed else []
    problems += [f"the port ({p.info.label}) failed when it was recorded: {p.info.failure}"
                 for p in ports if not p.info.passed]
    notes = []
    hosts = {r.info.host for r in (*originals, *ports)}
    if len(hosts) > 1:
        notes.append("the records come from different machines: " + ", ".join(sorted(hosts)))
    return judge(originals[0], highs[0] if highs else None, ports, replace(options, only=None),
                 problems=problems, notes=notes, data=[], records_dir=None)
