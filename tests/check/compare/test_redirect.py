"""The CPU redirect of CUDA: an unported program takes its GPU path on a CPU-only machine, in every
process, and says what it changed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from porttool.check.runner import run_once

pytest.importorskip("torch")

SCRIPTS = Path(__file__).parent / "scripts" / "redirect"


def lines(output: str) -> dict[str, str]:
    out = {}
    for line in output.splitlines():
        key, sep, value = line.partition(": ")
        if sep and " " not in key:
            out[key] = value
    return out


@pytest.fixture(scope="module")
def idioms():
    return run_once([sys.executable, "cuda_idioms.py"], label="original", mode="redirect",
                    cwd=SCRIPTS, timeout=240, echo=False)


def test_cuda_idioms_run_on_the_cpu(idioms) -> None:
    assert idioms.exit_code == 0, idioms.output_tail
    got = lines(idioms.output_tail)
    assert got["done"] == "True"
    # a CUDA host as the program sees it
    assert (got["is_available"], got["device_count"], got["bf16"], got["capability"]) == ("True", "1", "True", "(8, 0)")
    for key in ("factory", "to_cuda", "to_int", "tensor_device_int", "dot_cuda", "pin_memory", "module_cuda",
                "device_context", "default_device", "linear_device_kwarg", "stream", "load_map_location",
                "load_map_callable"):
        assert got[key] == "cpu", key
    assert got["module_to_keeps_params"] == "True"  # an optimizer made before .to() still trains
    assert got["cuda_seed_is_the_cpu_generator"] == got["rng_state_is_the_cpu_state"] == "True"
    assert got["event_ms"] == "True"


def test_autocast_keeps_the_dtype_and_the_scaler_scales(idioms) -> None:
    got = lines(idioms.output_tail)
    assert got["autocast_fp16"] == "torch.float16"  # CUDA fp16 autocast stays fp16 on the CPU
    assert got["autocast_policy"] == "[torch.float32, torch.float32, torch.float16, torch.float32]"
    assert got["cuda_amp_autocast_default"] == "torch.float16"  # CUDA's default dtype, not the CPU's
    assert got["autocast_bf16"] == "torch.bfloat16"
    assert got["grad_scaler_scale"] == "65536.0"  # an enabled GradScaler, as on CUDA
    assert any("torch.autocast('cuda', float16) ran as torch.autocast('cpu', float16) with CUDA's op policy"
               in n for n in idioms.notes)


def test_distributed_and_compile(idioms) -> None:
    got = lines(idioms.output_tail)
    assert got["backend"] == "gloo" and got["ddp_all_reduce"] == "[1.0, 1.0]"
    assert got["compile_eager"] == "True"
    assert any("process group backend 'nccl' ran as 'gloo'" in n for n in idioms.notes)
    assert any("device_ids/output_device were dropped" in n for n in idioms.notes)


def test_cuda_without_a_cpu_meaning_is_named(idioms) -> None:
    got = lines(idioms.output_tail)
    assert got["cuda_graph"].startswith("porttool check --compare: CUDA graphs have no CPU meaning")
    assert got["no_cpu_meaning"].endswith("torch.cuda.caching_allocator_alloc() at "
                                          f"{SCRIPTS / 'cuda_idioms.py'}:112")


def test_the_notes_name_what_was_answered_as_a_cuda_host(idioms) -> None:
    (apis,) = [n for n in idioms.notes if n.startswith("cpu redirect: torch.cuda calls answered")]
    for api in ("torch.cuda.is_available", "torch.cuda.set_device", "torch.cuda.synchronize",
                "torch.cuda.manual_seed", "torch.cuda.get_rng_state"):
        assert api in apis


def test_without_the_redirect_the_same_program_dies() -> None:
    report = run_once([sys.executable, "cuda_idioms.py"], label="x", mode="tripwire", cwd=SCRIPTS,
                      timeout=240, echo=False)
    assert report.exit_code != 0 and "done: True" not in report.output_tail


def test_spawned_children_and_dataloader_workers_are_redirected() -> None:
    report = run_once([sys.executable, "spawn_and_workers.py"], label="original", mode="redirect",
                      cwd=SCRIPTS, timeout=240, echo=False)
    assert report.exit_code == 0, report.output_tail
    assert "child 0: 3.0 on cpu, cuda True" in report.output_tail
    assert "child 1: 6.0 on cpu, cuda True" in report.output_tail
    assert "workers (fork): [2.0, 10.0]" in report.output_tail
    assert "workers (spawn): [2.0, 10.0]" in report.output_tail
