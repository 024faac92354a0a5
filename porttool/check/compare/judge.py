"""The verdict of ``porttool check --compare``: does the port compute what the original computed?

Three runs of the same command with the same seeds and data are compared rank by rank:

* **O**, the original as written (on CUDA, or on the CPU through the redirect);
* **H**, its high-precision twin (autocast disabled, TF32 off) -- made when O computed in reduced
  precision; when O computed in float32 it is its own high-precision reference;
* **P**, the port (on the neuron mock, a real Neuron device or plain CPU).

Exact quantities must be equal: the number of ranks, optimizer steps, ``backward()`` calls and
model calls; the parameter count of every step (untied or added weights change it); whether
``GradScaler`` skipped a step; the learning rate (relative 1e-6); output shapes; output dtypes
(unless a listed precision change explains them); and, when both runs draw "device" random numbers
from the CPU generator (CPU redirect, mock, plain CPU), the CPU generator's state after every step
(a changed seed, or a random draw added, dropped or moved, changes it).

Floating-point quantities -- the loss passed to each ``backward()``, the gradient norm at each step
(and the pre-clip norm ``clip_grad_norm_`` returned), and mean/std/max-abs of each output tensor --
follow the rule of PyTorch's dynamo ``same()`` and Neuron's error-ratio checks: **the port may be at
most k times as far from the high-precision reference H as the original is.**  For quantity q at
step s, with relative errors ``e_O = |O - H| / |H|`` and ``e_P = |P - H| / |H|`` (the mean is
measured against ``max(|mean|, std)``):

    e_P(s)  <=  k * g * noise_q(s)  +  (floor + d) * sqrt(1 + s)

* ``noise_q(s)``: the original's own precision error for q, its largest at any step up to
  ``s + 4`` on any rank.  An envelope, because errors compound over training, pooled over ranks
  and a few steps ahead, because one error alone fluctuates by an order of magnitude from step to
  step (a lucky near-zero must not make the next value fail);
* ``k`` = 3 when either run computes in reduced precision, 2 in float32 (dynamo's multipliers);
  ``--tolerance-ratio`` sets it;
* ``g = max(1, u(port) / u(original))``, the ratio of unit roundoffs when the port computes in a
  less precise format (float16 -> bfloat16: 8);
* ``floor = 64 * 2^-24`` (~3.8e-6): float32 noise that kernels doing the same sums in another
  order (a fused optimizer, another autocast op list) produce, growing with sqrt(steps);
* ``d``: a dtype-only term, ``u`` of the less precise run, used only when no high-precision twin
  measures the noise (the original computed in float32 and the port in bfloat16, or H is missing).

The first failing value -- lowest step, then forward (outputs) before backward (loss) before the
optimizer step -- is the divergence; the report names its step, rank and quantity, with hints when
the pattern says why (parameter count, random state, a constant loss factor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from porttool.check.compare.precision import (
    RunPrecision,
    changes,
    least_precise,
    run_precision,
    unit_roundoff,
)
from porttool.check.compare.records import Output, RankRecords, RunInfo, RunRecords
from porttool.check.compare.tolerance import (
    FP32_FLOOR,
    ORDER,
    Adder,
    Point,
    Series,
    Tolerance,
    exact,
    finite,
)

LR_RTOL = 1e-6
_TINY = 1e-30


@dataclass(frozen=True)
class QuantitySummary:
    quantity: str
    kind: str
    compared: int
    failures: int
    explained: int  # exact values that differ as a listed precision change says they may (dtypes)
    worst: Point | None  # the value closest to (or furthest past) its tolerance
    first_failure: Point | None


@dataclass(frozen=True)
class Curve:
    """Loss per optimizer step (the sum of the scalars passed to backward() in that step: the
    step's loss under gradient accumulation with ``loss / accumulation_steps``), rank 0."""

    original: tuple[float | None, ...]
    port: tuple[float | None, ...]
    reference: tuple[float | None, ...] = ()
    x_label: str = "optimizer step"


@dataclass(frozen=True)
class Comparison:
    original: RunInfo
    port: RunInfo
    high: RunInfo | None
    tolerance: Tolerance
    original_precision: RunPrecision
    port_precision: RunPrecision
    precision_changes: tuple[str, ...]
    ranks: tuple[int, ...]
    steps: int
    summaries: tuple[QuantitySummary, ...]
    failures: tuple[Point, ...]  # every failing value, in order
    compared: int
    curve: Curve
    hints: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    caveats: tuple[str, ...] = ()  # why an agreement here proves little (nothing trained, ...)

    @property
    def agreed(self) -> bool:
        return not self.failures and self.compared > 0

    @property
    def first_failure(self) -> Point | None:
        return self.failures[0] if self.failures else None


# -- building blocks --------------------------------------------------------------------------
def _h_matches(o: RankRecords, h: RankRecords | None) -> bool:
    return (h is not None and len(h.steps) == len(o.steps) and len(h.losses) == len(o.losses)
            and [s.skipped for s in h.steps] == [s.skipped for s in o.steps]
            and [(x.model, len(x.tensors)) for x in h.outputs] == [(x.model, len(x.tensors)) for x in o.outputs])


def _outputs_by_model(outputs: tuple[Output, ...]) -> dict[str, list[Output]]:
    by: dict[str, list[Output]] = {}
    for out in outputs:
        by.setdefault(out.model, []).append(out)
    return by



def _compare_rank(o: RankRecords, p: RankRecords, h: RankRecords | None, tol: Tolerance,
                  rng_comparable: bool, dtype_explained: bool,
                  series: dict[str, Series]) -> list[Point]:
    r = o.rank
    points: list[Point] = []

    def s(kind: str, quantity: str) -> Adder:
        if quantity not in series:
            series[quantity] = Series(kind, quantity)
        return Adder(series[quantity], r, tol)

    # optimizer steps
    n = min(len(o.steps), len(p.steps))
    if len(o.steps) != len(p.steps):
        points.append(Point(r, n, "structure", "optimizer steps", n, len(o.steps), len(p.steps),
                            ok=False, detail=f"the port made {len(p.steps)} optimizer steps, the "
                                             f"original {len(o.steps)}"))
    for j in range(n):
        so, sp = o.steps[j], p.steps[j]
        sh = h.steps[j] if h is not None else None
        points.append(exact(r, j, "parameters", "parameter count", j, so.params, sp.params,
                             f"the port optimises {sp.params:,} parameters, the original "
                             f"{so.params:,}"))
        points.append(exact(r, j, "skipped", "GradScaler skipped the step", j, so.skipped,
                             sp.skipped, "GradScaler skipped this step (inf/nan gradients) in "
                             f"{'the original' if so.skipped else 'the port'} only"))
        if so.lr is not None and sp.lr is not None:
            scale = max(abs(so.lr), _TINY)
            ok = abs(so.lr - sp.lr) / scale <= LR_RTOL
            points.append(Point(r, j, "lr", "learning rate", j, so.lr, sp.lr, ok=ok,
                                detail="" if ok else f"learning rate {sp.lr:g} in the port, "
                                                     f"{so.lr:g} in the original"))
        if rng_comparable and so.rng and sp.rng:
            points.append(exact(r, j, "rng", "random generator state", j, so.rng, sp.rng,
                                 "the CPU random generator's state after this step differs: the "
                                 "runs drew different random numbers"))
        if not (so.skipped or sp.skipped):
            s("grad_norm", "gradient norm").add(j, j, so.grad_norm, sp.grad_norm,
                                                sh.grad_norm if sh else None)
            if so.clip_norm is not None and sp.clip_norm is not None:
                s("clip_norm", "gradient norm before clipping").add(
                    j, j, so.clip_norm, sp.clip_norm, sh.clip_norm if sh else None)
    # losses
    m = min(len(o.losses), len(p.losses))
    if len(o.losses) != len(p.losses):
        step = o.losses[m].step if m < len(o.losses) else p.losses[m].step
        points.append(Point(r, step, "structure", "backward() calls", m, len(o.losses),
                            len(p.losses), ok=False, detail=f"the port called backward() "
                                                           f"{len(p.losses)} times, the original "
                                                           f"{len(o.losses)}"))
    for i in range(m):
        lo, lp = o.losses[i], p.losses[i]
        lh = h.losses[i] if h is not None else None
        if lo.value is None and lp.value is None:
            continue
        s("loss", "loss").add(lo.step, i, lo.value, lp.value, lh.value if lh else None)
    # model outputs
    ob, pb = _outputs_by_model(o.outputs), _outputs_by_model(p.outputs)
    hb = _outputs_by_model(h.outputs) if h is not None else {}
    for model in sorted(set(ob) | set(pb)):
        oo, po, ho = ob.get(model, []), pb.get(model, []), hb.get(model, [])
        if len(oo) != len(po):
            k = min(len(oo), len(po))
            step = (oo[k] if k < len(oo) else po[k]).step
            points.append(Point(r, step, "structure", f"calls of model {model}", k, len(oo),
                                len(po), ok=False, detail=f"the port called {model} {len(po)} "
                                                          f"times, the original {len(oo)}"))
        for k in range(min(len(oo), len(po))):
            xo, xp = oo[k], po[k]
            xh = ho[k] if k < len(ho) else None
            tp = {t.path: t for t in xp.tensors}
            th = {t.path: t for t in xh.tensors} if xh else {}
            for to in xo.tensors:
                name = f"output {model}{'' if to.path == 'out' else to.path}"
                tq = tp.get(to.path)
                if tq is None:
                    points.append(Point(r, xo.step, "structure", name, k, to.path, None, ok=False,
                                        detail=f"the port's {model} output has no {to.path}"))
                    continue
                if to.shape != tq.shape:
                    points.append(Point(r, xo.step, "output", f"{name} shape", k, list(to.shape),
                                        list(tq.shape), ok=False,
                                        detail=f"shape {list(tq.shape)} in the port, "
                                               f"{list(to.shape)} in the original"))
                    continue
                if to.dtype != tq.dtype:
                    ok = dtype_explained and {to.dtype, tq.dtype} <= {"float32", "float16", "bfloat16"}
                    points.append(Point(r, xo.step, "output", f"{name} dtype", k, to.dtype,
                                        tq.dtype, ok=ok, detail=(
                                            f"{to.dtype} → {tq.dtype}, as the precision change says"
                                            if ok else f"dtype {tq.dtype} in the port, {to.dtype} "
                                                       "in the original")))
                tr = th.get(to.path)
                ref_std = tr.std if tr is not None and finite(tr.std) else to.std
                s("output", f"{name} mean").add(xo.step, k, to.mean, tq.mean,
                                                tr.mean if tr else None,
                                                abs(ref_std) if ref_std is not None and finite(ref_std) else 0.0)
                if math.prod(to.shape) > 1:  # of one number, the mean is all there is
                    s("output", f"{name} std").add(xo.step, k, to.std, tq.std,
                                                   tr.std if tr else None)
                    s("output", f"{name} max-abs").add(xo.step, k, to.max_abs, tq.max_abs,
                                                       tr.max_abs if tr else None)
    return points


def _per_step_loss(rank: RankRecords | None) -> tuple[float | None, ...]:
    if rank is None:
        return ()
    if not rank.steps:
        return tuple(x.value for x in rank.losses)
    sums: dict[int, list[float]] = {}
    for x in rank.losses:
        if x.value is not None:
            sums.setdefault(x.step, []).append(x.value)
    return tuple(sum(sums[j]) if j in sums else None for j in range(len(rank.steps)))


def _hints(failures: list[Point], o0: RankRecords | None, p0: RankRecords | None) -> list[str]:
    hints: list[str] = []
    first_step = failures[0].step
    at_first = [f for f in failures if f.step == first_step]
    kinds = {f.kind for f in at_first}
    if "parameters" in kinds:
        f = next(f for f in at_first if f.kind == "parameters")
        diff = f.port - f.original
        hints.append(f"the port's model has {abs(diff):,} {'more' if diff > 0 else 'fewer'} "
                     "parameters: a changed model (weights untied, duplicated or dropped?)")
    if "rng" in kinds:
        hints.append("the random generator states differ: the runs drew different random numbers "
                     "(a changed seed, or a random draw added, removed or moved)")
    if o0 is not None and p0 is not None and not any(f.kind == "output" for f in at_first):
        # before the first update the forward passes are identical: a constant ratio of the
        # scalars passed to backward() is a changed loss computation, not drift
        first = [(a, b) for a, b in zip(o0.losses, p0.losses) if a.step == b.step == first_step]
        ratios = [b.value / a.value for a, b in first
                  if a.value is not None and b.value is not None and finite(b.value) and a.value]
        if ratios and all(abs(x - ratios[0]) <= 1e-3 * abs(ratios[0]) for x in ratios) \
                and abs(ratios[0] - 1) > 1e-2:
            hints.append(f"the model outputs agree but the port's loss is {ratios[0]:.4g}x the "
                         "original's: a changed loss scaling (a dropped or added division, e.g. by "
                         "the gradient accumulation steps?)")
    if "skipped" in kinds:
        hints.append("GradScaler skipped steps differently: float16 overflow in one run only "
                     "(expected when the port changed the precision; the runs diverge from here)")
    return hints


def _degenerate(run: RunRecords) -> list[str]:
    """Runs whose agreement proves little: nothing trained, or a loss that never moves."""
    out = []
    steps = [s for r in run.ranks for s in r.steps if not s.skipped]
    if steps and all(s.grad_norm == 0 for s in steps):
        out.append("the original's gradients are zero at every step: it trained nothing, so "
                   "agreement says little about the port's training numerics")
    losses = [x.value for r in run.ranks for x in r.losses if x.value is not None]
    if len(losses) > 1 and len(set(losses)) == 1:
        out.append(f"the original's loss is {losses[0]:g} at every backward(): a constant loss "
                   "cannot show a divergence")
    return out


def compare_runs(original: RunRecords, port: RunRecords, high: RunRecords | None = None, *,
                 ratio: float | None = None) -> Comparison:
    """Judge ``port`` against ``original`` (and its high-precision twin ``high``)."""
    o_prec, p_prec = run_precision(original), run_precision(port)
    notes: list[str] = list(original.notes) + list(port.notes)
    usable_high = high if (high is not None and high.ranks and o_prec.reduced) else None
    if usable_high is not None:
        source, dtype_term = f"the high-precision twin ({usable_high.info.label})", 0.0
    elif not o_prec.reduced:
        source = "the original itself (it computed in float32)"
        dtype_term = unit_roundoff(p_prec.dtype) if p_prec.reduced else 0.0
    else:
        source = "dtypes only (no high-precision twin of the original was recorded)"
        dtype_term = unit_roundoff(least_precise({o_prec.dtype, p_prec.dtype}))
    reduced = o_prec.reduced or p_prec.reduced
    k = ratio if ratio is not None else (3.0 if reduced else 2.0)
    g = max(1.0, unit_roundoff(p_prec.dtype) / unit_roundoff(o_prec.dtype))
    tol = Tolerance(k, g, FP32_FLOOR, dtype_term, source)
    rng_comparable = original.info.rng_convention == port.info.rng_convention
    if not rng_comparable:
        notes.append("random generator states are not compared: the original drew device random "
                     f"numbers from {'the CPU' if original.info.rng_convention == 'cpu' else 'its device'}"
                     f" generator, the port from {'the CPU' if port.info.rng_convention == 'cpu' else 'its device'}"
                     " generator (the device's own random streams differ between machines)")
    precision_changes = changes(original, port)
    points: list[Point] = []
    series: dict[str, Series] = {}
    o_ranks = {x.rank for x in original.ranks}
    p_ranks = {x.rank for x in port.ranks}
    if o_ranks != p_ranks:
        points.append(Point(min(o_ranks ^ p_ranks), 0, "structure", "ranks", 0, sorted(o_ranks),
                            sorted(p_ranks), ok=False,
                            detail=f"the original recorded ranks {sorted(o_ranks)}, the port "
                                   f"{sorted(p_ranks)}"))
    for r in sorted(o_ranks & p_ranks):
        o, p = original.rank(r), port.rank(r)
        assert o is not None and p is not None
        h = usable_high.rank(r) if usable_high is not None else None
        rank_tol = tol
        if usable_high is not None and not _h_matches(o, h):
            notes.append(f"rank {r}: the high-precision twin took a different path (steps, "
                         "backward calls or outputs differ); its noise floor is not used, dtypes "
                         "set the tolerance")
            h = None
            rank_tol = Tolerance(k, g, FP32_FLOOR, unit_roundoff(least_precise(
                {o_prec.dtype, p_prec.dtype})), "dtypes only (the twin took another path)")
        points.extend(_compare_rank(o, p, h, rank_tol, rng_comparable, bool(precision_changes),
                                    series))
    for one in series.values():
        points.extend(one.judge())
    points.sort(key=lambda q: q.sort_key)
    failures = [q for q in points if not q.ok]
    summaries = []
    by_quantity: dict[tuple[str, str], list[Point]] = {}
    for q in points:
        by_quantity.setdefault((q.kind, q.quantity), []).append(q)
    for (kind, quantity), group in sorted(by_quantity.items(),
                                          key=lambda kv: (ORDER.get(kv[0][0], 9), kv[0][1])):
        bad = [q for q in group if not q.ok]
        worst = max(group, key=lambda q: q.margin) if group else None
        explained = sum(1 for q in group if q.ok and q.error is None and q.original != q.port)
        summaries.append(QuantitySummary(quantity, kind, len(group), len(bad), explained, worst,
                                         bad[0] if bad else None))
    o0, p0 = original.rank(0), port.rank(0)
    h0 = usable_high.rank(0) if usable_high is not None else None
    curve = Curve(_per_step_loss(o0), _per_step_loss(p0), _per_step_loss(h0),
                  "optimizer step" if o0 is not None and o0.steps else "backward() call")
    steps = max((len(x.steps) for x in original.ranks), default=0)
    hints = _hints(failures, o0, p0) if failures else []
    if not points:
        notes.append("nothing was compared: neither run recorded a backward(), an optimizer step "
                     "or a model call")
    return Comparison(original.info, port.info, usable_high.info if usable_high else None, tol,
                      o_prec, p_prec, precision_changes, tuple(sorted(o_ranks | p_ranks)), steps,
                      tuple(summaries), tuple(failures), len(points), curve, tuple(hints),
                      tuple(dict.fromkeys(notes)), tuple(_degenerate(original)))
