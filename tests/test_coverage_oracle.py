"""benchmarks/coverage.py: its line-level oracle counts the construct shapes of issue 16, and the
scan reports every line of a file written in those shapes (recall 100 % on it)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("coverage_oracle", REPO / "benchmarks" / "coverage.py")
coverage = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(coverage)  # type: ignore[union-attr]

SHAPES = '''import os
import torch
from unittest import mock
from torch.utils.data import DataLoader


def pick(device_type):
    return getattr(torch, device_type, torch.cuda)


def test_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with mock.patch("torch.cuda.set_device"):
        pass
    with mock.patch.dict(os.environ, {"CUDA_VISIBLE_DEVICES": "0,1"}):
        pass


def half(x):
    return x.type() == "torch.cuda.HalfTensor"


def launch(env):
    env["CUDA_VISIBLE_DEVICES"] = "0"
    backend = "NCCL"
    spec = "cuda:nccl,cpu:gloo"
    return backend, spec


def flags():
    if torch.backends.cudnn.benchmark:
        pass
    with torch.backends.cudnn.flags(enabled=False):
        pass
    torch.backends.cuda.enable_flash_sdp(False)


def index(device):
    if device.startswith("cuda:"):
        return int(str(device).replace("cuda:", ""))


def fp8(a, b, s):
    return torch._scaled_mm(a, b, scale_a=s, scale_b=s)


def load(auto):
    return auto.from_pretrained("m", attn_implementation="flash_attention_2")


def loader(ds, pin=True):
    kwargs = {"num_workers": 1, "pin_memory": True}
    return DataLoader(ds, pin_memory=pin, **kwargs)
'''


def test_the_oracle_counts_every_shape_line_and_nothing_else(tmp_path):
    path = tmp_path / "shapes.py"
    path.write_text(SHAPES + 'HELP = "set CUDA_VISIBLE_DEVICES first"  # prose\nquiet = DataLoader([], pin_memory=False)\n')
    flagged = coverage.cuda_lines(path)
    lines = SHAPES.splitlines()
    expected = {i for i, text in enumerate(lines, 1) if any(w in text for w in ("cuda", "cudnn", "CUDA", "NCCL", "nccl", "_scaled_mm", "flash_attention_2", "_sdp", "pin_memory"))}
    assert flagged == expected


def test_the_scan_reports_every_shape_line(tmp_path):
    (tmp_path / "shapes.py").write_text(SHAPES)
    out = tmp_path / "coverage.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "coverage.py"), "shapes.py", "--json", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["flagged"] >= 15
    assert result["missed_lines"] == [], proc.stdout
