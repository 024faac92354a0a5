"""Synthetic records for the unit tests of check --compare (no torch, no subprocess)."""

from __future__ import annotations

from porttool.check.compare.records import (
    Autocast,
    Loss,
    Output,
    RankRecords,
    RunInfo,
    RunRecords,
    ScalerUse,
    Step,
    TensorDigest,
)

LABELS = {"original": ("cpu redirect", "cpu-redirect"), "original-high-precision": ("cpu redirect", "cpu-redirect"),
          "port": ("mock", "mock")}


def make_rank(losses: list[float], *, rank: int = 0, grad_norms: list[float] | None = None,
              params: int = 1000, rngs: list[str] | None = None, autocast: str | None = None,
              autocast_enabled: bool = True, requested: str | None = None,
              logits: list[tuple[float, float, float]] | None = None, out_dtype: str = "float32",
              lr: float = 1e-3, scaler: bool | None = None, skipped: list[bool] | None = None) -> RankRecords:
    """One loss per optimizer step; outputs (mean, std, max_abs) of a model 'GPT' per step."""
    n = len(losses)
    grad_norms = grad_norms if grad_norms is not None else [1.0 + 0.1 * i for i in range(n)]
    rngs = rngs if rngs is not None else [f"rng{i}" for i in range(n)]
    skipped = skipped if skipped is not None else [False] * n
    steps = tuple(Step(i, 0, grad_norms[i], None, params, 4, 4, (("float32", params),), lr,
                       skipped[i], rngs[i]) for i in range(n))
    loss_events = tuple(Loss(i, i, v, v, None, "float32", "train.py:10") for i, v in enumerate(losses))
    outputs = ()
    if logits is not None:
        outputs = tuple(Output("GPT", i, i, True, (TensorDigest("[0]", (4, 8, 16), out_dtype, m, s, a),))
                        for i, (m, s, a) in enumerate(logits))
    regions = ()
    if autocast is not None:
        regions = (Autocast("train.py:5", "cpu", autocast, autocast_enabled, "cuda", requested or autocast, True),)
    scalers = () if scaler is None else (ScalerUse("train.py:3", "cpu", "cuda", scaler, 65536.0),)
    return RankRecords(rank, 100 + rank, ("train.py",), loss_events, steps, outputs, regions, scalers)


def make_run(role: str, *ranks: RankRecords, label: str | None = None, backend: str | None = None,
             precision: str = "as written") -> RunRecords:
    default_label, default_backend = LABELS[role]
    info = RunInfo(role, label or default_label, backend or default_backend, role == "port" and (backend or "mock") == "mock",
                   "high" if role == "original-high-precision" else precision, ("python", "train.py"),
                   "/work/repo", ".")
    return RunRecords(info, tuple(ranks))


def noisy(values: list[float], rel: list[float]) -> list[float]:
    return [v * (1 + r) for v, r in zip(values, rel)]


def git(cwd, *args: str) -> None:
    import os
    import subprocess

    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})
