"""The issue's "done when", on our own realistic script: an unported CUDA training script fails
`porttool check` with the tripwire naming its leftover lines; `porttool rewrite --apply` ports it;
the port passes the check, single process and under torchrun with two processes."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

SCRIPT = Path(__file__).parent / "scripts" / "cuda_ddp_train.py"
PY = sys.executable
TORCHRUN = (PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2")


def line_of(text: str, needle: str) -> int:
    (line,) = [i for i, ln in enumerate(text.splitlines(), 1) if needle in ln]
    return line


def check(run_cli: Any, cwd: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run_cli("check", "--output-format", "json", "--timeout", "180", *args, cwd=cwd)
    return code, json.loads(out)


def test_unported_fails_then_rewrite_then_passes(run_cli: Any, tmp_path: Path) -> None:
    train = tmp_path / "train.py"
    shutil.copy(SCRIPT, train)
    original = train.read_text()
    path = str(train)

    # Unported, single process: every CUDA call reached is named, up to the first that raises.
    code, data = check(run_cli, tmp_path, "--", PY, "train.py")
    assert code == 1
    (run,) = data["run"]["runs"]
    assert run["exit_code"] != 0  # `.cuda()` raised
    assert "CUDA call reached: Module.cuda()" in run["output_tail"]
    assert [(c["file"], c["line"], c["code"]) for c in run["cuda_calls"]] == [
        (path, line_of(original, 'device = "cuda" if torch.cuda.is_available()'), "PT101"),
        (path, line_of(original, "torch.cuda.manual_seed("), "PT107"),
        (path, line_of(original, "dtype = \"bfloat16\" if torch.cuda.is_available()"), "PT101"),
        (path, line_of(original, "model = MLP().cuda()"), "PT001"),
    ]

    # Unported, torchrun: both workers stop at the NCCL process group.
    code, data = check(run_cli, tmp_path, "--", *TORCHRUN, "train.py")
    assert code == 1
    (run,) = data["run"]["runs"]
    assert run["cuda_calls"] == [{"file": path, "line": line_of(original, 'backend="nccl"'),
                                  "code": "PT501", "api": "init_process_group('nccl')",
                                  "count": 2}]

    # Port it.
    code, _, _ = run_cli("rewrite", "--apply", "--unsafe-fixes", "--target", "neuron", "train.py",
                         cwd=tmp_path)
    assert code == 1  # files changed
    ported = train.read_text()
    assert "torch.cuda" not in ported and ".cuda()" not in ported and "nccl" not in ported

    # Ported: static stage and single-process run pass.
    code, data = check(run_cli, tmp_path, "train.py", "--", PY, "train.py")
    assert code == 0, data
    assert data["static"]["passed"] is True
    (run,) = data["run"]["runs"]
    assert run["cuda_calls"] == [] and run["simulated"] is True
    assert "rank 0: 4 steps on neuron" in run["output_tail"]
    assert (tmp_path / "ckpt.pt").exists()

    # Ported, torchrun with two processes (it also resumes from the checkpoint just written).
    code, data = check(run_cli, tmp_path, "--", *TORCHRUN, "train.py")
    assert code == 0, data
    (run,) = data["run"]["runs"]
    assert run["processes"] == 3 and run["cuda_calls"] == []
    assert "process group 'neuron' is simulated with gloo" in run["notes"]
    assert "rank 0: 4 steps on neuron" in run["output_tail"]
