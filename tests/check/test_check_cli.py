"""`porttool check` from the command line: the static stage, the run stage, their exit codes and
the JSON report (the run stage goes through the real runner and the CPU mock of the device)."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

SCRIPTS = Path(__file__).parent / "scripts"
PY = sys.executable

CLEAN = """\
import torch

device = torch.device("neuron")
model = torch.nn.Linear(4, 2).to(device)
torch.accelerator.synchronize()
"""

UNPORTED = """\
import torch

model = torch.nn.Linear(4, 2)
model.cuda()
torch.cuda.synchronize()
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def check_json(run_cli: Any, *args: str, cwd: Path = SCRIPTS) -> tuple[int, dict[str, Any]]:
    code, out, _ = run_cli("check", "--output-format", "json", *args, cwd=cwd)
    return code, json.loads(out)


# -- static stage only (no command) ---------------------------------------------------------------
def test_static_only_clean_port_exits_0(run_cli: Any, tmp_path: Path) -> None:
    write(tmp_path / "train.py", CLEAN)
    code, out, _ = run_cli("check", "train.py", cwd=tmp_path)
    assert code == 0, out
    assert "static stage (1 files" in out and "PASSED" in out
    assert out.rstrip().endswith("porttool check --target neuron: PASSED")


def test_static_only_unported_code_exits_1_with_file_line_and_codes(run_cli: Any, tmp_path: Path) -> None:
    write(tmp_path / "train.py", UNPORTED)
    code, out, _ = run_cli("check", "train.py", cwd=tmp_path)
    assert code == 1
    assert "train.py:4:1: PT001" in out  # model.cuda()
    assert "train.py:5:1: PT105" in out  # torch.cuda.synchronize()
    assert "still fixable for neuron" in out
    assert out.rstrip().endswith("porttool check --target neuron: FAILED")


def test_no_paths_and_no_command_checks_the_current_directory(run_cli: Any, tmp_path: Path) -> None:
    write(tmp_path / "pkg" / "a.py", CLEAN)
    write(tmp_path / "pkg" / "b.py", UNPORTED)
    code, data = check_json(run_cli, cwd=tmp_path)
    assert code == 1 and data["run"] is None
    assert data["static"]["files"] == 2
    assert {(Path(p["path"]).name, p["code"]) for p in data["static"]["problems"]} == {
        ("b.py", "PT001"), ("b.py", "PT105")}


def test_missing_path_is_a_usage_error(run_cli: Any, tmp_path: Path) -> None:
    code, _, err = run_cli("check", "nope.py", cwd=tmp_path)
    assert code == 2 and "no such file or directory: nope.py" in err


# -- static + run --------------------------------------------------------------------------------
def test_paths_before_double_dash_are_checked_and_the_rest_is_the_command(run_cli: Any) -> None:
    # Everything after `--` is the command (even words that look like paths or options).
    code, data = check_json(run_cli, "portable_train.py", "--", PY, "portable_train.py")
    assert code == 0, data
    assert data["passed"] is True
    assert data["static"]["passed"] is True and data["static"]["files"] == 1
    (run,) = data["run"]["runs"]
    assert run["command"] == [PY, "portable_train.py"] and run["exit_code"] == 0


def test_static_failure_fails_the_check_even_when_the_run_passes(run_cli: Any, tmp_path: Path) -> None:
    write(tmp_path / "leftover.py", "import torch\nprint(torch.cuda.is_available())\n")
    write(tmp_path / "ok.py", "print('ok')\n")
    code, data = check_json(run_cli, "leftover.py", "--", PY, "ok.py", cwd=tmp_path)
    assert code == 1 and data["passed"] is False
    assert data["run"]["passed"] is True
    assert [(p["line"], p["code"], p["kind"]) for p in data["static"]["problems"]] == [
        (2, "PT101", "fixable")]


def test_text_report_of_a_failed_run_names_the_reached_cuda_call(run_cli: Any) -> None:
    code, out, err = run_cli("check", "--", PY, "cuda_leftover.py", cwd=SCRIPTS)
    assert code == 1
    assert "SIMULATED neuron device (CPU mock)" in out and "SIMULATION:" in out
    assert f"{SCRIPTS / 'cuda_leftover.py'}:6: PT105 torch.cuda.synchronize()" in out
    assert out.rstrip().endswith("porttool check --target neuron: FAILED")
    assert "porttool: running" in err  # narration and the child's output go to stderr


def test_json_report_fields(run_cli: Any) -> None:
    code, data = check_json(run_cli, "--", PY, "report_fields.py")
    assert code == 1  # the program exits 0, but it reached torch.cuda
    assert data["schema_version"] == 1 and data["target"] == "neuron" and data["static"] is None
    stage = data["run"]
    assert stage["status"] == "failed" and stage["backend_requested"] == "auto"
    (run,) = stage["runs"]
    script = str(SCRIPTS / "report_fields.py")
    assert run["backend"] == "mock" and run["simulated"] is True
    assert run["simulation_notice"].startswith("SIMULATION")
    assert run["versions"]["neuron"] == "porttool CPU mock (simulation)"
    assert run["versions"]["torch"].startswith("2.")
    assert run["exit_code"] == 0 and run["timed_out"] is False and run["passed"] is False
    assert run["failure_reason"] == "1 CUDA call(s) reached"
    assert run["cuda_calls"] == [{"file": script, "line": 11, "code": "PT101",
                                  "api": "torch.cuda.is_available()", "count": 1}]
    assert [(h["kind"], h["file"], h["line"], h["count"]) for h in run["host_syncs"]] == [
        ("item", script, 8, 4), ("tolist", script, 10, 1)]  # most frequent site first
    assert [(f["file"], f["line"]) for f in run["fp64"]] == [(script, 9)]
    (inputs,) = run["model_inputs"]
    assert inputs["module"] == "Linear" and inputs["distinct"] == 2
    assert inputs["signatures"] == [{"signature": "(4, 8):float32", "calls": 3},
                                    {"signature": "(3, 8):float32", "calls": 1}]
    assert "done True" in run["output_tail"]


def test_timeout_fails_the_check(run_cli: Any) -> None:
    code, data = check_json(run_cli, "--timeout", "2", "--", PY, "sleeper.py")
    assert code == 1
    (run,) = data["run"]["runs"]
    assert run["timed_out"] is True and run["exit_code"] is None
    assert run["failure_reason"] == "timed out" and run["duration_s"] < 30


def test_backend_neuron_without_torch_neuronx_exits_1_with_the_reason(run_cli: Any) -> None:
    # Documented choice: a run stage that cannot run as asked is a failed check (exit 1), the
    # same as --target neuron-xla without torch-xla; exit 2 stays for usage errors.
    code, out, _ = run_cli("check", "--backend", "neuron", "--", PY, "portable_train.py",
                           cwd=SCRIPTS)
    assert code == 1
    assert "--backend neuron: torch-neuronx is not importable in" in out
    assert "[mock]" not in out  # nothing ran: no silent fallback to the mock


def test_unknown_backend_is_a_usage_error(run_cli: Any) -> None:
    code, _, _ = run_cli("check", "--backend", "tpu", "--", PY, "portable_train.py", cwd=SCRIPTS)
    assert code == 2


# -- targets -------------------------------------------------------------------------------------
def test_portable_runs_on_cpu_and_on_the_mock_and_both_pass(run_cli: Any) -> None:
    code, data = check_json(run_cli, "--target", "portable", "portable_train.py", "--",
                            PY, "portable_train.py")
    assert code == 0, data
    cpu, mock = data["run"]["runs"]
    assert (cpu["label"], cpu["simulated"], cpu["passed"]) == ("cpu", False, True)
    assert (mock["label"], mock["simulated"], mock["passed"]) == ("mock", True, True)
    assert "ran on cpu" in cpu["output_tail"] and "ran on neuron" in mock["output_tail"]


@pytest.mark.parametrize(("script", "good", "bad", "error"), [
    # written for neuron only: the plain-CPU run fails
    ("train_small.py", "mock", "cpu", "device type at start of device string: neuron"),
    # a placement bug plain CPU cannot see: the mock run fails with PyTorch's error
    ("cpu_only.py", "cpu", "mock", "Expected all tensors to be on the same device"),
])
def test_portable_fails_when_only_one_of_the_two_runs_passes(
        run_cli: Any, script: str, good: str, bad: str, error: str) -> None:
    code, data = check_json(run_cli, "--target", "portable", "--", PY, script)
    assert code == 1 and data["run"]["status"] == "failed"
    runs = {r["label"]: r for r in data["run"]["runs"]}
    assert runs[good]["passed"] is True
    assert runs[bad]["passed"] is False and error in runs[bad]["output_tail"]
    assert data["run"]["reason"].startswith(f"{bad}: exit status")


def test_neuron_xla_without_torch_xla_says_so_and_still_runs_static(run_cli: Any) -> None:
    code, out, _ = run_cli("check", "--target", "neuron-xla", "portable_train.py", "--", PY,
                           "portable_train.py", cwd=SCRIPTS)
    assert code == 1
    assert "static stage (1 files" in out  # the static stage ran
    assert "run stage of --target neuron-xla needs torch-xla" in out
    code, data = check_json(run_cli, "--target", "neuron-xla", "portable_train.py", "--", PY,
                            "portable_train.py")
    assert data["static"]["passed"] is True
    assert data["run"]["status"] == "skipped" and data["run"]["runs"] == []


# -- the project's own Python ----------------------------------------------------------------------
def test_python_option_runs_the_command_under_that_interpreter(run_cli: Any, tmp_path: Path) -> None:
    # Another environment's interpreter, recognisable by what it exports.
    wrapper = tmp_path / "bin" / "project-python"
    write(wrapper, f'#!/bin/sh\nPROJECT_ENV=yes exec "{PY}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    write(tmp_path / "env_probe.py",
          "import os, torch\nx = torch.ones(2, device='neuron')\n"
          "print('env', os.environ.get('PROJECT_ENV'), x.device)\n")
    code, data = check_json(run_cli, "--python", str(wrapper), "--", "python", "env_probe.py",
                            cwd=tmp_path)
    assert code == 0, data
    (run,) = data["run"]["runs"]
    assert run["command"] == [str(wrapper), "env_probe.py"]
    assert "env yes neuron:0" in run["output_tail"]
    # The probe for the real SDK ran under it too: --backend neuron names that interpreter.
    code, out, _ = run_cli("check", "--backend", "neuron", "--python", str(wrapper), "--",
                           "python", "env_probe.py", cwd=tmp_path)
    assert code == 1 and f"torch-neuronx is not importable in {wrapper}" in out

