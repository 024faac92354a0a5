"""How one value of ``porttool check --compare`` is judged (the rule is described in ``judge``).

``Tolerance`` is the allowance ``k * g * noise + (floor + d) * sqrt(1 + step)``; a ``Point`` is one
compared value; a ``Series`` is one float quantity over a run, judged with the original's noise
pooled over ranks and the next ``NOISE_LOOKAHEAD`` steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

FP32_FLOOR = 64 * 2.0**-24
NOISE_LOOKAHEAD = 4  # steps
TINY = 1e-30
# within a step: the forward (outputs), then backward (loss), then the optimizer step
ORDER = {"output": 0, "loss": 1, "structure": 2, "parameters": 3, "skipped": 4, "lr": 5,
         "rng": 6, "grad_norm": 7, "clip_norm": 8}


@dataclass(frozen=True)
class Tolerance:
    ratio: float  # k
    factor: float  # g
    floor: float
    dtype_term: float  # d
    noise_source: str

    def allowed(self, noise: float, step: int) -> float:
        return self.ratio * self.factor * noise + (self.floor + self.dtype_term) * math.sqrt(1 + max(step, 0))

    def describe(self) -> str:
        parts = [f"k={self.ratio:g}"]
        if self.factor != 1:
            parts.append(f"g={self.factor:g}")
        parts.append(f"floor={self.floor:.1e}")
        if self.dtype_term:
            parts.append(f"dtype term={self.dtype_term:.1e}")
        return ", ".join(parts) + f"; noise from {self.noise_source}"


@dataclass(frozen=True)
class Point:
    """One compared value."""

    rank: int
    step: int
    kind: str  # output | loss | structure | parameters | skipped | lr | rng | grad_norm | clip_norm
    quantity: str  # what a person reads: "loss", "output GPT[0] std", ...
    index: int  # the event's number in its stream (backward call, step, model call)
    original: Any
    port: Any
    reference: Any = None  # H's value (float quantities with a high-precision twin)
    error: float | None = None  # e_P
    original_error: float | None = None  # e_O
    allowed: float | None = None
    ok: bool = True
    detail: str = ""

    @property
    def sort_key(self) -> tuple[int, int, int, int]:
        return (self.step, ORDER.get(self.kind, 9), self.rank, self.index)

    @property
    def margin(self) -> float:
        """error / allowed (below 1 passes); 0 for exact quantities that agree, inf when not."""
        if self.error is None or self.allowed is None:
            return 0.0 if self.ok else math.inf
        if self.allowed <= 0:
            return 0.0 if self.error == 0 else math.inf
        return self.error / self.allowed


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _same_nonfinite(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) and math.isnan(b):
        return True
    return math.isinf(a) and a == b


class Series:
    """The values of one float quantity over a run (every rank), judged together: the original's
    own precision error is pooled over ranks and nearby steps, because one error alone fluctuates
    by an order of magnitude from step to step."""

    def __init__(self, kind: str, quantity: str) -> None:
        self.kind, self.quantity = kind, quantity
        self.items: list[tuple[int, int, int, float | None, float | None, float | None, float,
                               Tolerance]] = []

    def add(self, rank: int, step: int, index: int, o: float | None, p: float | None,
            h: float | None, tol: Tolerance, scale_hint: float = 0.0) -> None:
        self.items.append((rank, step, index, o, p, h, scale_hint, tol))

    def judge(self) -> list[Point]:
        prepared: list[tuple[int, int, int, float | None, float | None, float | None,
                             float | None, float | None, Tolerance]] = []
        worst_at: dict[int, float] = {}  # step -> the original's largest error at that step
        for rank, step, index, o, p, h, hint, tol in self.items:
            ref = h if finite(h) else o
            if ref is None or o is None or p is None or not (finite(ref) and finite(p) and finite(o)):
                prepared.append((rank, step, index, o, p, h, None, None, tol))
                continue
            scale = max(abs(ref), hint, TINY)
            e_o = abs(o - ref) / scale if finite(h) else 0.0
            worst_at[step] = max(worst_at.get(step, 0.0), e_o)
            prepared.append((rank, step, index, o, p, h, e_o, abs(p - ref) / scale, tol))
        # noise(s): the original's largest error at any step up to s + NOISE_LOOKAHEAD, any rank
        noise_until: list[tuple[int, float]] = []
        running = 0.0
        for step in sorted(worst_at):
            running = max(running, worst_at[step])
            noise_until.append((step, running))

        def noise(step: int) -> float:
            value = 0.0
            for at, level in noise_until:
                if at > step + NOISE_LOOKAHEAD:
                    break
                value = level
            return value

        points = []
        for rank, step, index, o, p, h, err_o, err_p, tol in prepared:
            if err_p is None or err_o is None:
                ok = _same_nonfinite(o, p)
                detail = "" if ok else f"the port's value is {p}, the original's {o}"
                points.append(Point(rank, step, self.kind, self.quantity, index, o, p, h,
                                    ok=ok, detail=detail))
                continue
            allowed = tol.allowed(noise(step), step)
            points.append(Point(rank, step, self.kind, self.quantity, index, o, p, h, err_p,
                                err_o, allowed, err_p <= allowed))
        return points


def exact(rank: int, step: int, kind: str, quantity: str, index: int, o: Any, p: Any,
          detail: str = "") -> Point:
    """A value that must be equal (``detail`` says what it means when it is not)."""
    ok = o == p
    return Point(rank, step, kind, quantity, index, o, p, ok=ok, detail="" if ok else detail)


class Adder:
    """Adds one rank's values to a series, with that rank's tolerance."""

    def __init__(self, series: Series, rank: int, tol: Tolerance) -> None:
        self.series, self.rank, self.tol = series, rank, tol

    def add(self, step: int, index: int, o: float | None, p: float | None, h: float | None,
            scale_hint: float = 0.0) -> None:
        self.series.add(self.rank, step, index, o, p, h, self.tol, scale_hint)
