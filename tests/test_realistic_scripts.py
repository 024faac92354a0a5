"""Realistic CUDA scripts that die on a CPU-only machine run after `rewrite --apply --target
portable --unsafe-fixes`, with no hand edits and no extra flags, and print the same numbers as
the original forced onto the CPU (single process and torchrun DDP). The scripts are in
tests/realistic/ (written here, in the style of public training and inference scripts)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

REALISTIC = Path(__file__).parent / "realistic"
ITERS = "--max_iters=3"


def _run(args: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


GLOO_TEARDOWN_ABORT = "terminate called without an active exception"


def _torchrun(args: list[str], cwd: Path, attempts: int = 3) -> subprocess.CompletedProcess[str]:
    """A torchrun of 2 CPU processes over gloo. On a loaded machine torch's gloo teardown sometimes
    aborts a process after the script has finished (all iterations printed, then `std::terminate`
    at exit; seen with the original and the port alike, about 1 run in 8 under load). Only that
    exact failure is retried; any other is returned as it is."""
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    for _ in range(attempts):
        done = _run([*torchrun, *args], cwd)
        finished = len(_numbers(done.stdout)) == int(ITERS.split("=")[1])
        if done.returncode == 0 or not (finished and GLOO_TEARDOWN_ABORT in done.stderr):
            return done
    return done


def _numbers(output: str) -> list[str]:
    """The lines that carry results, with timings (which always differ) cut off."""
    lines = [line for line in output.splitlines() if re.match(r"(iter \d+: loss|checksum|argmax)", line)]
    return [re.sub(r", time .*$", "", line) for line in lines]


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(original, ported) copies of the realistic scripts; the port is made once by the CLI."""
    root = tmp_path_factory.mktemp("realistic")
    original, ported = root / "original", root / "ported"
    for folder in (original, ported):
        shutil.copytree(REALISTIC, folder, ignore=shutil.ignore_patterns("*.md", "__pycache__"))
    cmd = [sys.executable, "-m", "porttool", "rewrite", "--apply", "--allow-dirty", "--target", "portable", "--unsafe-fixes", "."]
    done = _run(cmd, ported)
    assert done.returncode == 1, done.stderr  # 1: files were changed
    assert "2 of 2 files ported" in done.stderr
    again = _run([sys.executable, "-m", "porttool", "rewrite", "--target", "portable", "--unsafe-fixes", "."], ported)
    assert again.returncode == 0 and again.stdout == "", f"a second rewrite changes the port:\n{again.stdout}"
    return original, ported


def test_the_originals_die_without_cuda(scripts):
    original, _ = scripts
    train = _run([sys.executable, "train_char_lm.py", ITERS], original)
    assert train.returncode != 0 and "Torch not compiled with CUDA enabled" in train.stderr
    bench = _run([sys.executable, "bench_infer.py"], original)
    assert bench.returncode != 0 and "Traceback" in bench.stderr


def test_ported_training_matches_the_original_forced_onto_cpu(scripts):
    original, ported = scripts
    before = _run([sys.executable, "train_char_lm.py", ITERS, "--device=cpu"], original)
    after = _run([sys.executable, "train_char_lm.py", ITERS], ported)
    assert before.returncode == 0, before.stderr
    assert after.returncode == 0, after.stderr
    assert len(_numbers(after.stdout)) == 3
    assert _numbers(after.stdout) == _numbers(before.stdout)


def test_ported_training_under_torchrun_matches_the_original_forced_onto_cpu(scripts):
    original, ported = scripts
    before = _torchrun(["train_char_lm.py", ITERS, "--device=cpu", "--backend=gloo"], original)
    after = _torchrun(["train_char_lm.py", ITERS], ported)
    assert before.returncode == 0, before.stderr[-3000:]
    assert after.returncode == 0, after.stderr[-3000:]
    assert len(_numbers(after.stdout)) == 3
    assert _numbers(after.stdout) == _numbers(before.stdout)


# The original benchmark calls torch.cuda unconditionally; forcing it onto the CPU needs stand-ins
# for those calls (timing is not compared, only the results).
_FORCE_CPU = """
import runpy, sys, time, torch
class Event:
    def __init__(self, **kwargs): self.t = 0.0
    def record(self): self.t = time.perf_counter()
    def elapsed_time(self, other): return (other.t - self.t) * 1000
torch.cuda.Event = Event
for name in ("synchronize", "reset_peak_memory_stats", "empty_cache"):
    setattr(torch.cuda, name, lambda *a, **k: None)
torch.cuda.max_memory_allocated = lambda *a, **k: 0
sys.argv = ["bench_infer.py", "--device", "cpu"]
runpy.run_path("bench_infer.py", run_name="__main__")
"""


def test_ported_benchmark_matches_the_original_forced_onto_cpu(scripts):
    original, ported = scripts
    before = _run([sys.executable, "-c", _FORCE_CPU], original)
    after = _run([sys.executable, "bench_infer.py"], ported)
    assert before.returncode == 0, before.stderr
    assert after.returncode == 0, after.stderr
    assert re.search(r"latency \d+\.\d+ ms", after.stdout)
    assert len(_numbers(after.stdout)) == 2
    assert _numbers(after.stdout) == _numbers(before.stdout)
