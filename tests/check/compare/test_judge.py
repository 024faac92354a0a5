"""The verdict of check --compare on synthetic records: what agrees, what diverges, and where."""

from __future__ import annotations

import math

import pytest
from compare_helpers import make_rank, make_run, noisy

from porttool.check.compare.judge import FP32_FLOOR, compare_runs
from porttool.check.compare.precision import changes, run_precision
from porttool.check.compare.report import summary_line

LOSSES = [3.30, 3.25, 3.18, 3.12, 3.05, 3.01, 2.96, 2.90]
ERR_O = [1e-4, 2e-4, 1.5e-4, 3e-4, 2.5e-4, 1e-4, 3e-4, 2e-4]  # the bf16 original vs fp32


def bf16_set(port_rel: list[float], **port_kwargs: object):
    high = make_run("original-high-precision", make_rank(LOSSES, autocast="bfloat16", autocast_enabled=False))
    original = make_run("original", make_rank(noisy(LOSSES, ERR_O), autocast="bfloat16"))
    kwargs = {"autocast": "bfloat16"} | port_kwargs
    port = make_run("port", make_rank(noisy(LOSSES, port_rel), **kwargs))  # type: ignore[arg-type]
    return original, high, port


def test_identical_fp32_runs_agree_exactly():
    original = make_run("original", make_rank(LOSSES))
    port = make_run("port", make_rank(LOSSES))
    c = compare_runs(original, port)
    assert c.agreed and not c.failures and c.compared > 0
    assert c.tolerance.noise_source.startswith("the original itself")
    assert c.original_precision.dtype == c.port_precision.dtype == "float32"


def test_nothing_compared_is_not_a_pass():
    empty = make_run("original")
    c = compare_runs(empty, make_run("port"))
    assert not c.agreed and c.compared == 0
    assert any("nothing was compared" in n for n in c.notes)


def test_port_within_the_originals_precision_noise_agrees():
    # the port is as far from H as the original is, at other steps: pooled noise covers it
    original, high, port = bf16_set([2e-4, 1e-4, 3e-4, 2e-4, 3e-4, 2e-4, 1e-4, 3e-4])
    c = compare_runs(original, port, high)
    assert c.agreed, [f.quantity for f in c.failures]
    assert c.tolerance.ratio == 3 and c.tolerance.noise_source.startswith("the high-precision twin")


def test_port_past_k_times_the_noise_diverges_at_that_step():
    rel = [2e-4, 1e-4, 3e-4, 2e-4, 3e-4, 2e-4, 1e-4, 3e-4]
    rel[5] = 5e-3  # ~17x the original's largest error
    original, high, port = bf16_set(rel)
    c = compare_runs(original, port, high)
    assert not c.agreed
    first = c.first_failure
    assert first is not None and first.step == 5 and first.quantity == "loss"
    assert first.error == pytest.approx(abs(noisy(LOSSES, rel)[5] - LOSSES[5]) / LOSSES[5])
    assert first.allowed == pytest.approx(3 * 3e-4 + FP32_FLOOR * math.sqrt(6), rel=1e-6)


def test_without_the_twin_a_bf16_original_gets_a_dtype_tolerance():
    original, _, port = bf16_set([2e-4] * 8)
    c = compare_runs(original, port, None)
    assert c.tolerance.dtype_term == 2.0**-8 and "dtypes only" in c.tolerance.noise_source
    assert c.agreed


def test_a_less_precise_port_gets_the_ratio_of_unit_roundoffs():
    high = make_run("original-high-precision", make_rank(LOSSES, autocast="float16", autocast_enabled=False))
    original = make_run("original", make_rank(noisy(LOSSES, ERR_O), autocast="float16"))
    port = make_run("port", make_rank(noisy(LOSSES, [2e-3] * 8), autocast="bfloat16"))
    c = compare_runs(original, port, high)
    assert c.tolerance.factor == 8.0
    assert c.agreed  # 2e-3 < 3 * 8 * 1e-4..3e-4
    assert c.precision_changes == ("autocast float16 → bfloat16 (bfloat16 at train.py:5)",)
    same_precision = compare_runs(original, make_run("port", make_rank(noisy(LOSSES, [2e-3] * 8), autocast="float16")), high)
    assert not same_precision.agreed  # the same 2e-3 error in float16 is out of tolerance


def test_parameter_count_is_exact_and_hinted():
    original = make_run("original", make_rank(LOSSES, params=1000))
    port = make_run("port", make_rank(LOSSES, params=1864))
    c = compare_runs(original, port)
    first = c.first_failure
    assert first is not None and (first.step, first.quantity) == (0, "parameter count")
    assert any("864 more parameters" in h for h in c.hints)


def test_random_state_differs_and_is_hinted():
    original = make_run("original", make_rank(LOSSES))
    port = make_run("port", make_rank(LOSSES, rngs=["other"] * 8))
    c = compare_runs(original, port)
    assert c.first_failure is not None and c.first_failure.quantity == "random generator state"
    assert any("different random numbers" in h for h in c.hints)


def test_random_state_of_a_real_device_is_not_compared_with_the_cpu_redirect():
    original = make_run("original", make_rank(LOSSES))
    port = make_run("port", make_rank(LOSSES, rngs=["other"] * 8), label="neuron", backend="neuron")
    c = compare_runs(original, port)
    assert not any(f.kind == "rng" for f in c.failures)
    assert any("random generator states are not compared" in n for n in c.notes)
    assert c.port_precision.dtype == "bfloat16"  # a real Neuron device: compiler auto-cast assumed
    assert c.tolerance.dtype_term == 2.0**-8


def test_a_constant_loss_factor_is_named():
    original = make_run("original", make_rank(LOSSES))
    port = make_run("port", make_rank([2 * v for v in LOSSES]))
    c = compare_runs(original, port)
    assert c.first_failure is not None and (c.first_failure.step, c.first_failure.quantity) == (0, "loss")
    assert any("loss is 2x the original's" in h for h in c.hints)


def test_fewer_steps_diverge_where_the_port_stops():
    original = make_run("original", make_rank(LOSSES))
    port = make_run("port", make_rank(LOSSES[:5]))
    c = compare_runs(original, port)
    structure = [f for f in c.failures if f.kind == "structure"]
    assert {f.quantity for f in structure} == {"optimizer steps", "backward() calls"}
    assert all(f.step == 5 for f in structure)


def test_ranks_must_match():
    original = make_run("original", make_rank(LOSSES, rank=0), make_rank(LOSSES, rank=1))
    port = make_run("port", make_rank(LOSSES, rank=0))
    c = compare_runs(original, port)
    assert c.first_failure is not None and c.first_failure.quantity == "ranks"


def test_nan_agrees_only_with_nan():
    original = make_run("original", make_rank(LOSSES[:3] + [float("nan")]))
    assert compare_runs(original, make_run("port", make_rank(LOSSES[:3] + [float("nan")]))).agreed
    c = compare_runs(original, make_run("port", make_rank(LOSSES[:4])))
    assert c.first_failure is not None and c.first_failure.step == 3 and "nan" in c.first_failure.detail


def test_output_dtype_differences_pass_only_when_a_precision_change_explains_them():
    logits = [(0.01, 1.0, 4.0)] * 8
    original = make_run("original", make_rank(LOSSES, logits=logits, out_dtype="bfloat16", autocast="bfloat16"))
    fp32_port = make_run("port", make_rank(LOSSES, logits=logits, out_dtype="float32"))
    c = compare_runs(original, fp32_port)
    assert c.agreed and c.precision_changes == ("autocast bfloat16 → off (float32)",)
    dtype_row = next(s for s in c.summaries if s.quantity.endswith("dtype"))
    assert dtype_row.explained == 8
    fp64_port = make_run("port", make_rank(LOSSES, logits=logits, out_dtype="float64", autocast="bfloat16"))
    c = compare_runs(original, fp64_port)
    assert c.first_failure is not None and c.first_failure.quantity == "output GPT[0] dtype"


def test_output_mean_is_measured_against_the_spread():
    # a mean near zero moved by 1e-6 of the std is noise, not a 100% relative error
    original = make_run("original", make_rank(LOSSES, logits=[(1e-6, 1.0, 4.0)] * 8))
    port = make_run("port", make_rank(LOSSES, logits=[(2e-6, 1.0, 4.0)] * 8))
    assert compare_runs(original, port).agreed


def test_a_skipped_step_in_one_run_only_diverges():
    original = make_run("original", make_rank(LOSSES, skipped=[True] + [False] * 7))
    port = make_run("port", make_rank(LOSSES))
    c = compare_runs(original, port)
    assert c.first_failure is not None and c.first_failure.quantity == "GradScaler skipped the step"


def test_tolerance_ratio_can_be_set():
    rel = [2e-4, 1e-4, 3e-4, 2e-4, 3e-4, 2e-4, 1e-4, 3e-4]
    rel[2] = 1.2e-3  # 4x the original's largest error
    original, high, port = bf16_set(rel)
    assert not compare_runs(original, port, high).agreed
    assert compare_runs(original, port, high, ratio=5).agreed


def test_precision_of_a_run():
    run = make_run("original", make_rank(LOSSES, autocast="float16"))
    p = run_precision(run)
    assert p.dtype == "float16" and p.reduced and p.autocast == ("float16 at train.py:5",)
    high = make_run("original-high-precision", make_rank(LOSSES, autocast="float16", autocast_enabled=False))
    assert run_precision(high).dtype == "float32"
    scaled = make_run("port", make_rank(LOSSES, scaler=True))
    assert "GradScaler (loss scaling for float16) off → on" in changes(make_run("original", make_rank(LOSSES, scaler=False)), scaled)


def test_a_run_that_trains_nothing_is_called_out():
    flat = make_run("original", make_rank([0.0] * 4, grad_norms=[0.0] * 4))
    c = compare_runs(flat, make_run("port", make_rank([0.0] * 4, grad_norms=[0.0] * 4)))
    assert c.agreed  # equal, but ...
    assert any("trained nothing" in n for n in c.caveats) and any("constant loss" in n for n in c.caveats)
    assert "CAVEAT: the original's gradients are zero" in summary_line(c)
    assert compare_runs(make_run("original", make_rank(LOSSES)), make_run("port", make_rank(LOSSES))).caveats == ()
