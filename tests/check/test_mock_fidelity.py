"""Fidelity of the CPU mock of the neuron device: where a real device behaves one way, so must the
mock (issue 14).  Each test runs a script under ``porttool check``'s mock backend."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from porttool.check.runner import run_stage
from porttool.check.runtime_report import RunReport, render_text

pytest.importorskip("torch")

SCRIPTS = Path(__file__).parent / "scripts"
PY = sys.executable


def mock_run(*argv: str, target: str = "neuron", env: dict[str, str] | None = None) -> RunReport:
    result = run_stage([PY, *argv], target=target, backend="mock", cwd=SCRIPTS, timeout=180,
                       echo=False, env=env)
    assert result.passed, render_text(result)
    return result.runs[-1]


def test_moving_a_module_keeps_tied_parameters_and_their_identity() -> None:
    tail = mock_run("tied_weights.py").output_tail
    assert "tied True" in tail
    assert "same object True neuron:0" in tail  # an optimizer built before .to() still trains
    assert "params 40 40" in tail
    assert "optimizer trained the model True" in tail
    assert "tied after half True torch.float16" in tail
    assert "tied after cpu True cpu" in tail
