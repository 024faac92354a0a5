"""Results of the run stage of ``porttool check``: frozen values, JSON and plain text.

``RunStageResult.to_json()`` is a versioned machine contract (``schema_version``); the text from
``render_text`` is for people and may change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = 1
SIMULATION_NOTICE = (
    "SIMULATION: this run used porttool's CPU mock of the neuron device. It checks device "
    "placement, CUDA leftovers and API use; it says nothing about Neuron compilation, numerics, "
    "memory or speed."
)

Status = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class CudaCall:
    file: str
    line: int
    code: str
    api: str
    count: int = 1


@dataclass(frozen=True)
class HostSync:
    kind: str  # item | tolist | cpu | print
    file: str
    line: int
    count: int


@dataclass(frozen=True)
class Fp64Site:
    file: str
    line: int
    op: str
    count: int


@dataclass(frozen=True)
class ModelInputs:
    module: str
    signatures: tuple[tuple[str, int], ...]  # (signature, calls), most frequent first

    @property
    def distinct(self) -> int:
        return len(self.signatures)


@dataclass(frozen=True)
class UncaughtException:
    """An exception that ended one process of the command (a torchrun worker, say)."""

    pid: int
    rank: int | None  # RANK of a distributed worker
    type: str
    message: str
    traceback: str
    is_command: bool = False  # the process the runner started (its traceback is in the output)

    @property
    def who(self) -> str:
        return f"rank {self.rank} (pid {self.pid})" if self.rank is not None else f"pid {self.pid}"


@dataclass(frozen=True)
class RunReport:
    """One execution of the command (``--target portable`` makes two)."""

    label: str  # "mock", "cpu", "neuron", "xla"
    backend: str  # "mock" | "neuron" | "cpu" | "xla"
    simulated: bool
    command: tuple[str, ...]
    exit_code: int | None
    timed_out: bool
    duration_s: float
    versions: tuple[tuple[str, str], ...] = ()
    cuda_calls: tuple[CudaCall, ...] = ()
    host_syncs: tuple[HostSync, ...] = ()
    fp64: tuple[Fp64Site, ...] = ()
    model_inputs: tuple[ModelInputs, ...] = ()
    compile_calls: tuple[tuple[tuple[str, Any], ...], ...] = ()
    notes: tuple[str, ...] = ()
    processes: int = 0
    output_tail: str = ""
    events_collected: bool = True  # False when the per-process hooks were not active
    processes_unfinished: int = 0  # processes killed before writing their final events
    exceptions: tuple[UncaughtException, ...] = ()

    @property
    def worker_exceptions(self) -> tuple[UncaughtException, ...]:
        """Exceptions of processes other than the command's own: not in its output's tail."""
        return tuple(e for e in self.exceptions if not e.is_command)

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cuda_calls

    @property
    def failure_reason(self) -> str | None:
        if self.timed_out:
            return "timed out"
        if self.exit_code != 0:
            raised = self.worker_exceptions
            if raised:
                first = raised[0]
                return f"exit status {self.exit_code}; {first.who} raised {first.type}: {first.message}"
            return f"exit status {self.exit_code}"
        if self.cuda_calls:
            return f"{sum(c.count for c in self.cuda_calls)} CUDA call(s) reached"
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "backend": self.backend,
            "simulated": self.simulated,
            "simulation_notice": SIMULATION_NOTICE if self.simulated else None,
            "command": list(self.command),
            "passed": self.passed,
            "failure_reason": self.failure_reason,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "duration_s": round(self.duration_s, 3),
            "versions": dict(self.versions),
            "processes": self.processes,
            "processes_unfinished": self.processes_unfinished,
            "events_collected": self.events_collected,
            "exceptions": [vars_of(e) for e in self.exceptions],
            "cuda_calls": [vars_of(c) for c in self.cuda_calls],
            "host_syncs": [vars_of(h) for h in self.host_syncs],
            "fp64": [vars_of(f) for f in self.fp64],
            "model_inputs": [
                {
                    "module": m.module,
                    "distinct": m.distinct,
                    "signatures": [{"signature": s, "calls": n} for s, n in m.signatures],
                }
                for m in self.model_inputs
            ],
            "compile_calls": [dict(c) for c in self.compile_calls],
            "notes": list(self.notes),
            "output_tail": self.output_tail,
        }


@dataclass(frozen=True)
class RunStageResult:
    target: str  # neuron | portable | neuron-xla
    backend_requested: str  # auto | mock | neuron
    status: Status
    reason: str | None = None
    runs: tuple[RunReport, ...] = field(default_factory=tuple)
    skip_counts_as_pass: bool = False  # a skipped stage (SDK missing) passes only when asked

    @property
    def passed(self) -> bool:
        return self.status == "passed" or (self.status == "skipped" and self.skip_counts_as_pass)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "target": self.target,
            "backend_requested": self.backend_requested,
            "status": self.status,
            "passed": self.passed,
            "reason": self.reason,
            "runs": [r.to_json() for r in self.runs],
        }


def vars_of(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


_TRACEBACK_LINES = 20


def _site(file: str, line: int) -> str:
    return f"{file}:{line}" if line else file


def render_text(result: RunStageResult, *, top: int = 10) -> str:
    """A plain-text report (no rich markup)."""
    lines = [f"run stage (--target {result.target}): {result.status.upper()}"]
    if result.reason:
        lines.append(f"  reason: {result.reason}")
    for run in result.runs:
        lines.append("")
        kind = "SIMULATED neuron device (CPU mock)" if run.simulated else run.backend
        lines.append(f"[{run.label}] backend: {kind}")
        if run.simulated:
            lines.append(f"  {SIMULATION_NOTICE}")
        lines.append(f"  command: {' '.join(run.command)}")
        if run.versions:
            lines.append("  versions: " + ", ".join(f"{k} {v}" for k, v in run.versions))
        status = "timed out" if run.timed_out else f"exit status {run.exit_code}"
        lines.append(
            f"  {'passed' if run.passed else 'FAILED'}: {status}, {run.duration_s:.1f}s, "
            f"{run.processes} process(es)"
        )
        if not run.events_collected:
            lines.append("  (no runtime events: " + (
                "no process of the command had imported torch when it was killed)" if run.timed_out else
                "no process of the command imported torch with the check hooks active)"))
        elif run.processes_unfinished:
            lines.append(
                f"  {run.processes_unfinished} process(es) ended without writing their final events "
                f"({'killed at the timeout' if run.timed_out else 'killed, or left through os._exit'}): "
                "what they reached until then is below, replayed from their event journals"
            )
        if run.cuda_calls:
            lines.append(f"  CUDA calls reached ({len(run.cuda_calls)}):")
            for c in run.cuda_calls:
                times = f" x{c.count}" if c.count > 1 else ""
                lines.append(f"    {_site(c.file, c.line)}: {c.code} {c.api}{times}")
        if run.host_syncs:
            total = sum(h.count for h in run.host_syncs)
            lines.append(f"  host syncs: {total} (top sites)")
            for h in run.host_syncs[:top]:
                lines.append(f"    {_site(h.file, h.line)}: {h.kind} x{h.count}")
        if run.fp64:
            lines.append("  float64 on the device (no NeuronCore supports fp64):")
            for f in run.fp64[:top]:
                lines.append(f"    {_site(f.file, f.line)}: {f.op} x{f.count}")
        for m in run.model_inputs:
            risk = " (recompilation risk on Neuron)" if m.distinct > 1 else ""
            lines.append(f"  model {m.module}: {m.distinct} distinct input signature(s){risk}")
            for sig, n in m.signatures[:top]:
                lines.append(f"    [{sig}] x{n}")
        for compiled in run.compile_calls:
            info = dict(compiled)
            lines.append(
                f"  torch.compile(backend={info.get('backend', 'neuron')!r}) at {info.get('site')}: "
                f"mode={info.get('mode')!r} dynamic={info.get('dynamic')!r} (run eagerly by the mock)"
            )
        for note in run.notes:
            lines.append(f"  note: {note}")
        for raised in run.worker_exceptions:
            lines.append(f"  {raised.who} raised {raised.type}: {raised.message}")
            lines.extend("    " + ln for ln in raised.traceback.rstrip().splitlines()[-_TRACEBACK_LINES:])
        if not run.passed and run.output_tail:
            lines.append("  output (tail):")
            lines.extend("    " + ln for ln in run.output_tail.rstrip().splitlines()[-20:])
    return "\n".join(lines) + "\n"
