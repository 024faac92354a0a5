"""The CPU mock of the neuron device and the CUDA tripwire, exercised through the runner."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from porttool.check.runner import run_stage
from porttool.check.runtime_report import RunStageResult, render_text

pytest.importorskip("torch")

SCRIPTS = Path(__file__).parent / "scripts"
PY = sys.executable


def run(*argv: str, target: str = "neuron") -> RunStageResult:
    return run_stage([PY, *argv], target=target, backend="mock", cwd=SCRIPTS, timeout=120,
                     echo=False)


def test_small_training_loop_passes_and_reports_syncs_fp64_inputs() -> None:
    result = run("train_small.py")
    assert result.passed, render_text(result)
    (report,) = result.runs
    assert report.simulated and report.backend == "mock"
    assert "device neuron:0" in report.output_tail
    assert report.processes >= 3  # the script and its DataLoader workers
    script = str(SCRIPTS / "train_small.py")
    item = [h for h in report.host_syncs if h.kind == "item"]
    assert item and item[0].file == script and item[0].line == 25 and item[0].count == 12
    assert [(f.file, f.line) for f in report.fp64] == [(script, 28)]
    (inputs,) = report.model_inputs
    assert inputs.module == "Sequential" and inputs.signatures == (("(16, 16):float32", 12),)
    assert not report.cuda_calls


def test_placement_bug_fails_with_same_device_error_and_line() -> None:
    result = run("placement_bug.py")
    assert not result.passed
    tail = result.runs[0].output_tail
    assert "Expected all tensors to be on the same device" in tail
    assert 'placement_bug.py", line 5' in tail
    assert 'placement_bug.py", line 5' in render_text(result)  # the report shows the traceback


def test_cuda_leftover_is_caught_with_file_and_line() -> None:
    result = run("cuda_leftover.py")
    assert not result.passed
    calls = {(c.line, c.code, c.api) for c in result.runs[0].cuda_calls}
    # the codes the scanner gives the same lines (PT101, PT105), not the PT100 catch-all
    assert calls == {(4, "PT101", "torch.cuda.is_available()"),
                     (6, "PT105", "torch.cuda.synchronize()")}
    assert all(c.file.endswith("cuda_leftover.py") for c in result.runs[0].cuda_calls)
    assert "unreachable" not in result.runs[0].output_tail
    assert "cuda_leftover.py:6: PT105 torch.cuda.synchronize()" in render_text(result)
    assert "cuda_leftover.py:6 (PT105)" in result.runs[0].output_tail


def test_torchrun_two_processes_all_reduce_on_neuron() -> None:
    result = run("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                 "allreduce.py")
    assert result.passed, render_text(result)
    tail = result.runs[0].output_tail
    assert "rank 0/2 all_reduce ok: [3.0, 3.0, 3.0]" in tail
    assert "rank 1/2 all_reduce ok: [3.0, 3.0, 3.0]" in tail


def test_compile_dynamic_true_is_rejected() -> None:
    result = run("compile_dynamic.py")
    assert not result.passed
    assert "does not support dynamic=True" in result.runs[0].output_tail
    (call,) = result.runs[0].compile_calls
    assert dict(call)["dynamic"] is True


def test_device_contract_in_one_process() -> None:
    result = run("device_contract.py")
    assert result.passed, render_text(result)
    assert "contract ok" in result.runs[0].output_tail


def test_cuda_method_and_device_string_codes() -> None:
    result = run("cuda_device_leftovers.py")
    assert not result.passed
    got = {(c.line, c.code) for c in result.runs[0].cuda_calls}
    assert got == {(5, "PT001"), (9, "PT002"), (13, "PT005")}
    # Torch's own probes (DataLoader, autocast internals) were not recorded.
    assert all(c.file.endswith("cuda_device_leftovers.py") for c in result.runs[0].cuda_calls)


def test_event_timing_on_the_device() -> None:
    # torch.Event is what PT111 ports torch.cuda.Event to; the mock times it with the host clock.
    result = run("timing.py")
    assert result.passed, render_text(result)
    assert "timed " in result.runs[0].output_tail


def test_pin_memory_fails_with_a_note_naming_the_line() -> None:
    result = run("pin_memory.py")
    assert not result.passed
    (report,) = result.runs
    (note,) = [n for n in report.notes if "pinned-memory allocator" in n]
    # the DataLoader's line (PT401's site), not the loop's
    site = f"{SCRIPTS / 'pin_memory.py'}:3"
    assert note.startswith(f"the DataLoader made at {site} ")
    assert note.endswith(f"`porttool rewrite --unsafe-fixes --target neuron` changes {site} "
                         "(PT401: Set `pin_memory=False`)")


def test_compile_without_backend_selects_the_neuron_stand_in() -> None:
    # torch-neuronx picks its backend on a Neuron device; inductor has no neuron code generator.
    code = ("import torch\nm = torch.nn.Linear(4, 4).to('neuron')\n"
            "c = torch.compile(m, mode='max-autotune')\n"
            "print(c(torch.ones(2, 4, device='neuron')).device)\n")
    result = run_stage([PY, "-c", code], target="neuron", backend="mock", timeout=120, echo=False)
    assert result.passed, render_text(result)
    (report,) = result.runs
    assert "neuron:0" in report.output_tail
    assert "ignores mode='max-autotune'" in report.output_tail  # the warning Neuron gives
    (call,) = report.compile_calls
    assert dict(call)["backend"] == "default" and dict(call)["site"] == "<string>:3"


def test_recurrent_layers_match_the_cpu() -> None:
    # ATen picks fused LSTM/GRU cell kernels off the CPU; the mock must still run them.
    result = run("recurrent.py")
    assert result.passed, render_text(result)
    for name in ("LSTM", "GRU", "RNN"):
        assert f"{name} ok neuron:0" in result.runs[0].output_tail
