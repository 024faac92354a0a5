"""What the injected recorder writes in a real run on the mock, and that recording changes nothing
``porttool check`` reports (no host syncs of its own)."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest

from porttool.check.compare import records as rec
from porttool.check.compare.raw_lines import collect
from porttool.check.runner import run_once

pytest.importorskip("torch")

SCRIPTS = Path(__file__).parent / "scripts" / "records"


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory):
    raw = tmp_path_factory.mktemp("raw")
    report = run_once([sys.executable, "probe.py"], label="mock", mode="mock", cwd=SCRIPTS,
                      extra_env={"PORTTOOL_RECORDS_DIR": str(raw)}, timeout=240, echo=False)
    assert report.exit_code == 0, report.output_tail
    info = rec.RunInfo("port", "mock", "mock", True, "as written", report.command, str(SCRIPTS), ".")
    (rank,) = collect(raw / "mock", info).ranks
    return report, rank


def test_the_loss_is_the_scalar_passed_to_backward_unscaled(probe) -> None:
    _, rank = probe
    first = rank.losses[0]
    assert first.scale == 1024.0 and first.raw == pytest.approx(first.value * 1024.0)
    assert rank.losses[2].scale == 512.0  # the scaler backed off after the skipped step
    assert first.site == "probe.py:42"


def test_steps_record_norms_clipping_skips_and_parameters(probe) -> None:
    report, rank = probe
    assert [s.skipped for s in rank.steps] == [False, True, False, False]
    s0 = rank.steps[0]
    assert s0.params == 30 and s0.tensors == 4 and s0.lr == 0.01
    assert s0.clip_norm is not None and s0.clip_norm > 0.5 and s0.grad_norm == pytest.approx(0.5, rel=1e-5)
    assert math.isnan(rank.steps[1].grad_norm)
    # a fused optimizer given still-scaled gradients by GradScaler: the norm is unscaled
    fused = rank.steps[3]
    assert fused.optimizer == 1
    printed = float(re.search(r"unscaled grad norm (\S+)", report.output_tail).group(1))
    assert fused.grad_norm == pytest.approx(printed, rel=1e-7)
    assert len({s.rng for s in rank.steps}) == 1  # no random draws between steps in this program


def test_only_top_level_models_are_digested(probe) -> None:
    _, rank = probe
    assert {o.model for o in rank.outputs} == {"Net"}  # not Inner, not the CrossEntropyLoss module
    logits, hidden = rank.outputs[0].tensors
    assert (logits.path, logits.shape, logits.dtype) == ("['logits']", (8, 2), "float32")
    assert hidden.path == "['hidden']" and hidden.max_abs is not None and hidden.max_abs > 0


def test_unseeded_generators_start_from_the_same_seed(probe) -> None:
    report, _ = probe
    # Python's random, NumPy's and torch's generators, seeded with 0 before the program ran
    assert "unseeded: random 0.844422 numpy 0.548814 torch 0.496257" in report.output_tail


def test_recording_adds_no_host_sync_to_the_check(probe) -> None:
    report, _ = probe
    plain = run_once([sys.executable, "probe.py"], label="mock", mode="mock", cwd=SCRIPTS,
                     timeout=240, echo=False)
    assert plain.exit_code == 0, plain.output_tail
    assert report.host_syncs == plain.host_syncs and report.fp64 == plain.fp64
    assert {(h.line, h.kind) for h in plain.host_syncs} == {(51, "item"), (57, "item")}  # the program's own
