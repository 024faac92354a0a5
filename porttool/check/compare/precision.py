"""Precision of a run and the precision changes between two runs (``porttool check --compare``).

A run's *compute precision* is the least precise floating-point format its numbers went through:
the dtype of every autocast region it entered with autocast enabled, the dtypes of the parameters
it optimised, TF32 on a real CUDA device when the program allowed it, and bfloat16 on a real
Neuron device (the Neuron compiler casts float32 matmuls to bfloat16 by default).  Its *unit
roundoff* ``u`` (half the distance from 1 to the next number) sets how far two correct runs may
drift apart: a port computing in bfloat16 (u = 2^-8) where the original computed in float16
(u = 2^-11) may differ 8x more.

``changes()`` lists every difference in precision between the original and the port -- autocast
dtype or on/off, parameter dtypes, GradScaler on/off -- so an expected difference is named, not
reported as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from porttool.check.compare.records import RankRecords, RunRecords

UNIT_ROUNDOFF = {
    "float64": 2.0**-53,
    "float32": 2.0**-24,
    "tf32": 2.0**-11,  # 10 explicit mantissa bits, like float16
    "float16": 2.0**-11,
    "bfloat16": 2.0**-8,
}
_FLOATS = {"float64", "float32", "float16", "bfloat16"}


def unit_roundoff(dtype: str) -> float:
    return UNIT_ROUNDOFF.get(dtype, UNIT_ROUNDOFF["float32"])


def least_precise(dtypes: set[str]) -> str:
    known = [d for d in dtypes if d in UNIT_ROUNDOFF]
    if not known:
        return "float32"
    return max(known, key=lambda d: (UNIT_ROUNDOFF[d], d))


@dataclass(frozen=True)
class RunPrecision:
    dtype: str  # the least precise format the run computed in
    reasons: tuple[str, ...]  # why (one line each)
    autocast: tuple[str, ...]  # "bfloat16 at train.py:57" per enabled region used
    param_dtypes: tuple[str, ...]
    grad_scaler: bool | None  # None: the program made no GradScaler

    @property
    def reduced(self) -> bool:
        return unit_roundoff(self.dtype) > unit_roundoff("float32")


def _autocast_used(rank: RankRecords, *, as_written: bool) -> list[tuple[str, str | None]]:
    """(dtype, site) of the autocast regions entered enabled; ``as_written``: what the program
    asked for (the high-precision twin disables them; the CPU redirect keeps the dtype)."""
    out = []
    for a in rank.autocast:
        enabled = a.requested_enabled if as_written else a.enabled
        if enabled:
            out.append((a.requested_dtype if as_written else a.dtype, a.site))
    return out


def run_precision(run: RunRecords) -> RunPrecision:
    dtypes: set[str] = set()
    reasons: list[str] = []
    sites: dict[str, list[str]] = {}
    params: set[str] = set()
    scalers: list[bool] = []
    settings: dict[str, object] = {}
    for rank in run.ranks:
        for dtype, site in _autocast_used(rank, as_written=False):
            sites.setdefault(dtype, [])
            if site and site not in sites[dtype]:
                sites[dtype].append(site)
        for step in rank.steps[:1]:
            params.update(d for d, _ in step.param_dtypes if d in _FLOATS)
        scalers.extend(s.enabled for s in rank.grad_scalers)
        settings.update(dict(rank.settings))
    for dtype, where in sorted(sites.items()):
        dtypes.add(dtype)
        reasons.append(f"autocast {dtype}" + (f" at {', '.join(where)}" if where else ""))
    low_params = sorted(p for p in params if p != "float32")
    if low_params:
        dtypes.update(low_params)
        reasons.append(f"parameters in {', '.join(low_params)}")
    if run.info.backend == "cuda" and run.info.precision != "high" and (
            settings.get("matmul_allow_tf32") or settings.get("float32_matmul_precision") in ("high", "medium")):
        dtypes.add("tf32")
        reasons.append("TF32 float32 matmuls on CUDA (allow_tf32 / float32_matmul_precision)")
    if run.info.backend == "neuron":
        dtypes.add("bfloat16")
        reasons.append("real Neuron device: float32 matmuls assumed auto-cast to bfloat16 by the "
                       "Neuron compiler (its default)")
    dtype = least_precise(dtypes | {"float32"})
    autocast = tuple(f"{d} at {', '.join(w)}" if w else d for d, w in sorted(sites.items()))
    return RunPrecision(dtype, tuple(reasons), autocast, tuple(sorted(params)),
                        (any(scalers) if scalers else None))


def changes(original: RunRecords, port: RunRecords) -> tuple[str, ...]:
    """The precision changes from the original's run to the port's, one line each."""
    o, p = run_precision(original), run_precision(port)
    out: list[str] = []
    o_ac = {d for r in original.ranks for d, _ in _autocast_used(r, as_written=True)}
    p_ac = {d for r in port.ranks for d, _ in _autocast_used(r, as_written=False)}
    if o_ac != p_ac:
        before = ", ".join(sorted(o_ac)) or "off (float32)"
        after = ", ".join(sorted(p_ac)) or "off (float32)"
        where = "; ".join(p.autocast) if p.autocast else ""
        out.append(f"autocast {before} → {after}" + (f" ({where})" if where else ""))
    if set(o.param_dtypes) != set(p.param_dtypes) and (o.param_dtypes or p.param_dtypes):
        out.append(f"parameters {', '.join(o.param_dtypes) or '?'} → {', '.join(p.param_dtypes) or '?'}")
    if o.grad_scaler != p.grad_scaler and not (o.grad_scaler is None and p.grad_scaler is False) \
            and not (o.grad_scaler is False and p.grad_scaler is None):
        def state(v: bool | None) -> str:
            return "on" if v else "off"
        out.append(f"GradScaler (loss scaling for float16) {state(o.grad_scaler)} → {state(p.grad_scaler)}")
    if o.dtype != p.dtype and not out:
        out.append(f"compute precision {o.dtype} → {p.dtype} ({'; '.join(p.reasons) or 'float32'})")
    return tuple(out)
