"""The run stage: subprocess orchestration, targets, timeouts, report merging and rendering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from porttool.check import runner
from porttool.check.event_files import merge
from porttool.check.runner import run_stage
from porttool.check.runtime_report import (
    SCHEMA_VERSION,
    SIMULATION_NOTICE,
    CudaCall,
    RunReport,
    RunStageResult,
    render_text,
)

pytest.importorskip("torch")

SCRIPTS = Path(__file__).parent / "scripts"
PY = sys.executable


def run(script: str, **kwargs: object) -> RunStageResult:
    kwargs.setdefault("target", "neuron")
    kwargs.setdefault("backend", "mock")
    kwargs.setdefault("timeout", 120)
    return run_stage([PY, script], cwd=SCRIPTS, echo=False, **kwargs)  # type: ignore[arg-type]


def test_portable_target_runs_twice_cpu_then_mock() -> None:
    result = run("portable_train.py", target="portable")
    assert result.passed, render_text(result)
    assert [r.label for r in result.runs] == ["cpu", "mock"]
    cpu, mock = result.runs
    assert "ran on cpu" in cpu.output_tail and not cpu.simulated
    assert "ran on neuron" in mock.output_tail and mock.simulated


def test_portable_fails_when_one_run_fails() -> None:
    result = run("placement_bug.py", target="portable")
    assert not result.passed
    assert result.reason is not None and "exit status" in result.reason


def test_neuron_xla_without_torch_xla_reports_plain_reason() -> None:
    result = run("portable_train.py", target="neuron-xla", backend="auto")
    assert result.status == "skipped" and not result.passed and result.runs == ()
    assert result.reason is not None and "needs torch-xla" in result.reason
    assert "torch-xla" in render_text(result)
    allowed = run("portable_train.py", target="neuron-xla", backend="auto", xla_missing_ok=True)
    assert allowed.status == "skipped" and allowed.passed


def test_backend_neuron_without_sdk_fails_with_reason() -> None:
    result = run("portable_train.py", backend="neuron")
    assert result.status == "failed" and result.runs == ()
    assert result.reason is not None and "torch-neuronx is not importable" in result.reason


def test_timeout_kills_the_whole_process_group() -> None:
    result = run("sleeper.py", timeout=3)
    (report,) = result.runs
    assert report.timed_out and report.exit_code is None and not result.passed
    assert report.duration_s < 30
    pid = int(report.output_tail.split("grandchild")[1].split()[0])
    # The grandchild shared the process group; it must be gone (or a zombie awaiting reaping).
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        state = "gone"
    assert state in ("gone", "Z")


def test_child_output_is_echoed_live_and_kept(capfd: pytest.CaptureFixture[str]) -> None:
    result = run_stage([PY, "-c", "print('hello from child')"], target="neuron", backend="mock",
                       echo=True)
    assert result.passed
    assert "hello from child" in result.runs[0].output_tail
    assert "hello from child" in capfd.readouterr().err


def test_user_pythonpath_is_kept_and_inject_dir_first(tmp_path: Path) -> None:
    (tmp_path / "userlib.py").write_text("VALUE = 42\n")
    code = "import sys, userlib; print('PP', sys.path[1:3], userlib.VALUE)"
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    result = run_stage([PY, "-c", code], target="neuron", backend="mock", env=env, echo=False)
    assert result.passed, render_text(result)
    assert "42" in result.runs[0].output_tail
    child_env = runner._child_env(env, "mock", "/tmp/x", {})
    assert child_env["PYTHONPATH"].split(os.pathsep) == [str(runner.INJECT_DIR), str(tmp_path)]


def test_python_argument_substitutes_interpreter_and_torchrun() -> None:
    assert runner._resolve_command(["python", "t.py"], "/venv/bin/python") == [
        "/venv/bin/python", "t.py"]
    assert runner._resolve_command(["torchrun", "--nproc_per_node", "2", "t.py"], "/p") == [
        "/p", "-m", "torch.distributed.run", "--nproc_per_node", "2", "t.py"]
    assert runner._resolve_command(["bash", "x.sh"], "/p") == ["bash", "x.sh"]


def test_missing_command_is_a_failed_run_not_a_crash() -> None:
    result = run_stage(["definitely-not-a-command-xyz"], target="neuron", backend="mock",
                       echo=False)
    assert not result.passed and result.runs[0].exit_code == 127


def test_merge_sums_events_across_processes(tmp_path: Path) -> None:
    def event_file(pid: int, count: int) -> None:
        (tmp_path / f"{pid}.json").write_text(json.dumps({
            "versions": {"torch": "2.x"},
            "cuda_calls": [{"file": "a.py", "line": 3, "code": "PT100", "api": "x", "count": 1}],
            "host_syncs": [{"kind": "item", "file": "a.py", "line": 9, "count": count}],
            "fp64": [], "model_inputs": {"Net": {"(2, 3):float32": count}},
            "compile_calls": [], "notes": {"n": 1},
        }))

    event_file(1, 2)
    event_file(2, 5)
    (tmp_path / "3.json").write_text("{broken")
    merged = merge(tmp_path)
    assert merged["processes"] == 2
    assert merged["cuda_calls"] == (CudaCall("a.py", 3, "PT100", "x", 2),)
    assert merged["host_syncs"][0].count == 7
    assert merged["model_inputs"][0].signatures == (("(2, 3):float32", 7),)
    assert any("unreadable" in n for n in merged["notes"])


def _report(**kwargs: object) -> RunReport:
    base: dict[str, object] = {"label": "mock", "backend": "mock", "simulated": True,
                               "command": ("python", "t.py"), "exit_code": 0,
                               "timed_out": False, "duration_s": 1.0}
    base.update(kwargs)
    return RunReport(**base)  # type: ignore[arg-type]


def test_pass_rules_exit_timeout_and_cuda_calls() -> None:
    assert _report().passed
    assert not _report(exit_code=1).passed
    assert not _report(timed_out=True, exit_code=None).passed
    assert not _report(cuda_calls=(CudaCall("a.py", 1, "PT001", ".cuda()"),)).passed


def test_json_contract_and_simulation_notice() -> None:
    result = RunStageResult("neuron", "auto", "passed", runs=(_report(),))
    data = json.loads(json.dumps(result.to_json()))
    assert data["schema_version"] == SCHEMA_VERSION == 1
    assert data["passed"] is True and data["runs"][0]["simulated"] is True
    assert data["runs"][0]["simulation_notice"] == SIMULATION_NOTICE
    assert "SIMULATION" in render_text(result)
    real = RunStageResult("neuron", "neuron", "passed",
                          runs=(_report(simulated=False, backend="neuron", label="neuron"),))
    assert "SIMULATION" not in render_text(real)


def test_rejects_unknown_target_and_backend() -> None:
    with pytest.raises(ValueError):
        run_stage(["true"], target="gpu")
    with pytest.raises(ValueError):
        run_stage(["true"], target="neuron", backend="tpu")


def test_sitecustomize_is_inert_and_cheap_without_mode() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTTOOL_")}
    env["PYTHONPATH"] = str(runner.INJECT_DIR)
    code = "import sys, sitecustomize; print('torch' in sys.modules, 'porttool_events' in sys.modules)"
    out = subprocess.run([PY, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_sitecustomize_chains_to_a_later_one(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text("import builtins\nbuiltins.CHAINED = 'yes'\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(runner.INJECT_DIR), str(tmp_path)]))
    env.pop("PORTTOOL_CHECK_MODE", None)
    out = subprocess.run([PY, "-c", "print(CHAINED)"], env=env, capture_output=True, text=True,
                         check=False)
    assert out.stdout.strip() == "yes", out.stderr
