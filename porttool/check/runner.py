"""The run stage of ``porttool check``: run the user's command under the chosen backend.

Pure orchestration: pick the backend, build the child's environment (``inject/`` first on
PYTHONPATH, the user's PYTHONPATH kept), run the command in its own process group with a timeout,
pass its output through to our stderr while keeping the tail, and merge the per-process event files
the injected code writes (event_files.py).  The only printing is the child's own output.

Environment variables set for the child:

* ``PORTTOOL_CHECK_MODE``: ``mock`` (CPU simulation of the neuron device + CUDA tripwire) or
  ``tripwire`` (CUDA tripwire only: real Neuron, plain CPU, torch-xla on CPU);
* ``PORTTOOL_CHECK_REPORT_DIR``: where every process writes ``<pid>.json``;
* ``PORTTOOL_CHECK_IGNORE_PATHS``: optional, extra folders whose frames are not user code;
* ``PORTTOOL_CHECK_CUDA_CODES``: the rule registry's ``torch.cuda.*`` names -> rule codes (JSON),
  so a reached call is reported with the code the scanner gives it;
* ``PORTTOOL_MOCK_DEVICE_COUNT``: optional, neuron devices the mock reports (default:
  ``LOCAL_WORLD_SIZE`` under torchrun, else 1).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from porttool.check.event_files import merge
from porttool.check.runtime_report import RunReport, RunStageResult

INJECT_DIR = Path(__file__).resolve().parent / "inject"
MODE_ENV = "PORTTOOL_CHECK_MODE"
REPORT_DIR_ENV = "PORTTOOL_CHECK_REPORT_DIR"
CODES_ENV = "PORTTOOL_CHECK_CUDA_CODES"
TARGETS = ("neuron", "portable", "neuron-xla")
BACKENDS = ("auto", "mock", "neuron")
_TAIL_BYTES = 64 * 1024
_KILL_GRACE_S = 3.0

XLA_MISSING_REASON = (
    "the run stage of --target neuron-xla needs torch-xla importable in the target Python "
    "(it runs on CPU with PJRT_DEVICE=CPU); torch-xla was not found, so the command was not run"
)

_PROBE = r"""
import glob, importlib.util, json, sys
r = {"python": sys.executable, "torch": None, "torch_neuronx": None, "torch_xla": None,
     "neuron_devices": 0, "error": None}
try:
    import torch
    r["torch"] = torch.__version__
except Exception as exc:
    r["error"] = repr(exc)
def version(dist):
    try:
        from importlib.metadata import version as v
        return v(dist)
    except Exception:
        return "unknown"
if importlib.util.find_spec("torch_xla") is not None:
    r["torch_xla"] = version("torch-xla")
if WANT_NEURONX and r["torch"]:
    try:
        import torch_neuronx
        r["torch_neuronx"] = getattr(torch_neuronx, "__version__", None) or version("torch-neuronx")
        try:
            r["neuron_devices"] = int(torch.neuron.device_count())
        except Exception:
            r["neuron_devices"] = len(glob.glob("/dev/neuron[0-9]*"))
    except Exception:
        pass
print("PORTTOOL_PROBE=" + json.dumps(r))
"""


def run_stage(
    command: list[str],
    *,
    target: str,
    backend: str = "auto",
    timeout: float = 600,
    python: str | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    echo: bool = True,
    xla_missing_ok: bool = False,
) -> RunStageResult:
    """Run ``command`` for ``target`` and return what happened.

    ``python``: the target environment's interpreter; a command starting with ``python``/
    ``python3`` runs under it and ``torchrun`` becomes ``python -m torch.distributed.run``.
    ``env``: the base environment (default: ours).  ``echo``: pass the child's output through to
    our stderr live.  ``xla_missing_ok``: with ``--target neuron-xla`` and no torch-xla, report the
    stage as skipped *and passed* instead of skipped and not passed.
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if not command:
        raise ValueError("no command to run")
    base_env = dict(os.environ if env is None else env)
    for key in (MODE_ENV, REPORT_DIR_ENV, CODES_ENV):
        base_env.pop(key, None)
    interpreter = python or _python_of(command, base_env)
    argv = _resolve_command(command, python)

    def go(label: str, mode: str, extra: Mapping[str, str], versions: dict[str, str]) -> RunReport:
        return _run_once(argv, label=label, mode=mode, extra_env=extra, base_env=base_env,
                         cwd=cwd, timeout=timeout, echo=echo, versions=versions, target=target)

    if target == "portable":
        cpu_only = {"CUDA_VISIBLE_DEVICES": "", "NEURON_RT_VISIBLE_CORES": ""}
        runs = (go("cpu", "tripwire", cpu_only, {}), go("mock", "mock", {}, {}))
        return _result(target, backend, runs)

    if target == "neuron-xla":
        probe = _probe(interpreter, base_env, cwd, want_neuronx=False)
        if not probe.get("torch_xla"):
            reason = XLA_MISSING_REASON
            if probe.get("error"):
                reason += f" (probe: {probe['error']})"
            return RunStageResult(target, backend, "skipped", reason=reason,
                                  skip_counts_as_pass=xla_missing_ok)
        versions = _versions(probe, "torch", "torch_xla")
        run = go("xla", "tripwire", {"PJRT_DEVICE": "CPU"}, versions)
        return _result(target, backend, (run,))

    # target == "neuron"
    if backend == "mock":
        return _result(target, backend, (go("mock", "mock", {}, {}),))
    probe = _probe(interpreter, base_env, cwd, want_neuronx=True)
    real = bool(probe.get("torch_neuronx")) and int(probe.get("neuron_devices") or 0) > 0
    if backend == "neuron" and not real:
        why = ("torch-neuronx is not importable" if not probe.get("torch_neuronx")
               else "no Neuron device is visible")
        return RunStageResult(target, backend, "failed",
                              reason=f"--backend neuron: {why} in {interpreter}")
    if real:
        run = go("neuron", "tripwire", {}, _versions(probe, "torch", "torch_neuronx"))
        return _result(target, backend, (run,))
    return _result(target, backend, (go("mock", "mock", {}, {}),))


# -- helpers ------------------------------------------------------------------------------------
def _result(target: str, backend: str, runs: tuple[RunReport, ...]) -> RunStageResult:
    failed = [r for r in runs if not r.passed]
    if not failed:
        return RunStageResult(target, backend, "passed", runs=runs)
    reason = "; ".join(f"{r.label}: {r.failure_reason}" for r in failed)
    return RunStageResult(target, backend, "failed", reason=reason, runs=runs)


def _versions(probe: Mapping[str, Any], *keys: str) -> dict[str, str]:
    return {k.replace("_", "-"): str(probe[k]) for k in keys if probe.get(k)}


def _looks_like_python(arg: str) -> bool:
    name = os.path.basename(arg)
    return name.startswith("python") and not name.endswith((".py", "-config"))


def _python_of(command: Sequence[str], env: Mapping[str, str]) -> str:
    if _looks_like_python(command[0]):
        found = shutil.which(command[0], path=env.get("PATH"))
        if found:
            return found
    return shutil.which("python3", path=env.get("PATH")) or sys.executable


def _resolve_command(command: Sequence[str], python: str | None) -> list[str]:
    argv = list(command)
    if python is None:
        return argv
    if _looks_like_python(argv[0]):
        return [python, *argv[1:]]
    if os.path.basename(argv[0]) == "torchrun":
        return [python, "-m", "torch.distributed.run", *argv[1:]]
    return argv


def _probe(python: str, env: Mapping[str, str], cwd: Path | None, *,
           want_neuronx: bool) -> dict[str, Any]:
    code = _PROBE.replace("WANT_NEURONX", "True" if want_neuronx else "False")
    try:
        proc = subprocess.run([python, "-c", code], env=dict(env), cwd=cwd, capture_output=True,
                              text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"could not run {python}: {exc}"}
    for line in proc.stdout.splitlines():
        if line.startswith("PORTTOOL_PROBE="):
            return dict(json.loads(line.split("=", 1)[1]))
    return {"error": (proc.stderr.strip().splitlines() or ["probe failed"])[-1]}


@functools.lru_cache(maxsize=1)
def cuda_api_codes() -> dict[str, str]:
    """``torch.cuda.*`` API names -> the code of the built-in rule that matches them exactly."""
    from porttool.ruleset.registry import load_registry

    codes: dict[str, str] = {}
    try:
        registry = load_registry()
    except Exception:  # noqa: BLE001 - the tripwire falls back to PT100
        return codes
    for rule in sorted(registry, key=lambda r: r.code):
        if rule.match.get("kind") not in ("call", "reference"):
            continue
        for name in rule.match.get("names", ()):
            if name.startswith("torch.cuda.") and "*" not in name:
                codes.setdefault(name, rule.code)
    return codes


def _child_env(base: Mapping[str, str], mode: str, report_dir: str,
               extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(base)
    env.update(extra)
    previous = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(INJECT_DIR) + (os.pathsep + previous if previous else "")
    env[MODE_ENV] = mode
    env[REPORT_DIR_ENV] = report_dir
    env[CODES_ENV] = json.dumps(cuda_api_codes(), sort_keys=True)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _run_once(argv: list[str], *, label: str, mode: str, extra_env: Mapping[str, str],
              base_env: Mapping[str, str], cwd: Path | None, timeout: float, echo: bool,
              versions: dict[str, str], target: str | None = None) -> RunReport:
    report_dir = tempfile.mkdtemp(prefix="porttool-check-")
    try:
        env = _child_env(base_env, mode, report_dir, extra_env)
        exit_code, timed_out, duration, tail, pid = _execute(argv, env, cwd, timeout,
                                                             sys.stderr if echo else None)
        merged = merge(Path(report_dir), command_pid=pid)
    finally:
        shutil.rmtree(report_dir, ignore_errors=True)
    sites = merged.pop("sites")
    if sites:  # what failed at a line, and what `porttool rewrite --target` does with it there
        from porttool.check.site_notes import site_notes

        merged["notes"] = tuple(sorted((*merged["notes"], *site_notes(sites, target))))
    all_versions = dict(merged.pop("versions"))
    all_versions.update(versions)
    simulated = mode == "mock"
    if simulated:
        all_versions["neuron"] = "porttool CPU mock (simulation)"
    return RunReport(
        label=label,
        backend={"mock": "mock", "neuron": "neuron", "xla": "xla"}.get(label, "cpu"),
        simulated=simulated,
        command=tuple(argv),
        exit_code=exit_code,
        timed_out=timed_out,
        duration_s=duration,
        versions=tuple(sorted(all_versions.items())),
        output_tail=tail,
        **merged,
    )


def _execute(argv: list[str], env: dict[str, str], cwd: Path | None, timeout: float,
             echo_to: IO[str] | None) -> tuple[int | None, bool, float, str, int | None]:
    """Run it: (exit status, timed out, seconds, output tail, pid of the command's process)."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except OSError as exc:
        return 127, False, time.monotonic() - start, f"porttool check: cannot run {argv[0]}: {exc}\n", None
    tail = bytearray()

    def pump() -> None:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            tail.extend(chunk)
            if len(tail) > _TAIL_BYTES:
                del tail[: len(tail) - _TAIL_BYTES]
            if echo_to is not None:
                try:
                    echo_to.write(chunk.decode("utf-8", "replace"))
                    echo_to.flush()
                except (OSError, ValueError):
                    pass

    reader = threading.Thread(target=pump, name="porttool-check-output", daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
    else:
        _kill_group(proc, grace=0.0, only_leftovers=True)
    reader.join(timeout=5.0)
    if proc.stdout is not None:
        proc.stdout.close()
    duration = time.monotonic() - start
    text = tail.decode("utf-8", "replace")
    return (None if timed_out else proc.returncode), timed_out, duration, text, proc.pid


def _kill_group(proc: subprocess.Popen[bytes], grace: float = _KILL_GRACE_S,
                only_leftovers: bool = False) -> None:
    """SIGTERM the command's process group (workers get to write their reports), then SIGKILL."""
    try:
        pgid = os.getpgid(proc.pid) if proc.poll() is None else proc.pid
    except ProcessLookupError:
        pgid = proc.pid
    try:
        os.killpg(pgid, signal.SIGKILL if only_leftovers else signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    if only_leftovers:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        pass


def run_once(command: list[str], *, label: str, mode: str, extra_env: Mapping[str, str] | None = None,
             env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 600,
             python: str | None = None, echo: bool = True) -> RunReport:
    """One run of ``command`` under ``mode`` -- any mode the injected ``sitecustomize`` knows,
    ``redirect`` and ``reference`` included (``check --compare``'s runs of the original)."""
    base_env = dict(os.environ if env is None else env)
    for key in (MODE_ENV, REPORT_DIR_ENV, CODES_ENV):
        base_env.pop(key, None)
    return _run_once(_resolve_command(command, python), label=label, mode=mode,
                     extra_env=dict(extra_env or {}), base_env=base_env, cwd=cwd, timeout=timeout,
                     echo=echo, versions={})
