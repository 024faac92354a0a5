"""The report of ``porttool check --compare`` / ``porttool compare``: text for people, JSON for
machines (``schema_version``; ``docs/compare-schema.json`` is the schema), SVG loss curves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from porttool.check.compare.curves import render_svg
from porttool.check.compare.judge import Comparison, Point, QuantitySummary
from porttool.check.compare.records import RunInfo, RunRecords, encode_float

SCHEMA_VERSION = 1
MAX_FAILURES_LISTED = 50


@dataclass(frozen=True)
class CompareResult:
    """Everything one comparison session produced."""

    original: RunRecords | None
    high: RunRecords | None
    ports: tuple[RunRecords, ...]
    comparisons: tuple[Comparison, ...]
    problems: tuple[str, ...] = ()  # what makes the comparison fail or untrustworthy
    notes: tuple[str, ...] = ()
    plots: tuple[tuple[str, str], ...] = ()  # (port label, path)
    records_dir: str | None = None
    only: str | None = None  # "original" / "port": records made for a later `porttool compare`
    data: tuple[str, ...] = field(default_factory=tuple)  # how the original saw the data

    @property
    def passed(self) -> bool:
        if self.problems:
            return False
        if self.only is not None:
            return True
        return bool(self.comparisons) and all(c.agreed for c in self.comparisons)


# -- one-line summaries ---------------------------------------------------------------------
def _num(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


def describe_point(p: Point) -> str:
    where = f"step {p.step}" + (f", rank {p.rank}" if p.rank else "")
    if p.error is not None and p.allowed is not None:
        return (f"{where}: {p.quantity} {_num(p.port)} in the port, {_num(p.original)} in the "
                f"original (relative error {p.error:.2e} > allowed {p.allowed:.2e})")
    return f"{where}: {p.quantity}: {p.detail or f'{_num(p.port)} vs {_num(p.original)}'}"


def _run_name(info: RunInfo) -> str:
    return info.label + (" (SIMULATED)" if info.simulated else "")


def summary_line(c: Comparison) -> str:
    ranks = f"{len(c.ranks)} rank{'s' * (len(c.ranks) != 1)}"
    changes = "; precision changes: " + "; ".join(c.precision_changes) if c.precision_changes else ""
    if c.agreed:
        worst = max((s.worst for s in c.summaries if s.worst is not None and s.worst.error is not None),
                    key=lambda p: p.margin, default=None)
        w = (f", closest: {worst.quantity} at step {worst.step} ({worst.margin:.2f} of its "
             "tolerance)") if worst is not None else ""
        caveat = f" -- CAVEAT: {c.caveats[0]}" if c.caveats else ""
        return (f"port {_run_name(c.port)} AGREES with the original ({_run_name(c.original)}) over "
                f"{c.steps} step{'s' * (c.steps != 1)} x {ranks}: {c.compared} values within "
                f"tolerance{w}{changes}{caveat}")
    if c.first_failure is None:
        return f"port {_run_name(c.port)}: NOTHING COMPARED ({'; '.join(c.notes) or 'no records'})"
    return (f"port {_run_name(c.port)} DIVERGES from the original ({_run_name(c.original)}) at "
            f"{describe_point(c.first_failure)}{changes}")


def headline(result: CompareResult) -> str:
    if result.only is not None:
        return (f"porttool compare: recorded the {result.only} run(s) only"
                + (f" in {result.records_dir}" if result.records_dir else ""))
    verdict = "PASSED" if result.passed else "FAILED"
    return f"porttool compare: {verdict}"


# -- text -----------------------------------------------------------------------------------
def _quantity_row(s: QuantitySummary) -> str:
    w = s.worst
    if w is not None and w.error is not None and w.allowed is not None:
        worst = f"{w.error:.1e} (allowed {w.allowed:.1e}) at step {w.step}"
    elif s.failures:
        worst = "differs"
    elif s.explained:
        worst = f"differs as the precision change says ({s.explained}x)"
    else:
        worst = "exact"
    return f"    {s.quantity[:44]:<44} {s.compared:>8} {s.failures:>6}  {worst}"


def _run_lines(label: str, records: RunRecords, shown: set[str]) -> list[str]:
    info = records.info
    status = "ran" if info.passed else f"FAILED ({info.failure})"
    line = (f"  {label}: {info.label} [{info.backend}], precision {info.precision}, {status}, "
            f"{len(records.ranks)} rank(s) recorded")
    notes = [n for n in info.notes if n not in shown]
    shown.update(notes)
    return [line] + [f"    note: {n}" for n in notes]


def render_text(result: CompareResult) -> str:
    out = ["compare: the original and the port, run with the same command, seeds and data"]
    shown: set[str] = set()
    if result.original is not None:
        out += _run_lines("original", result.original, shown)
    if result.high is not None:
        out += _run_lines("high-precision twin", result.high, shown)
    for port in result.ports:
        out += _run_lines("port", port, shown)
    out += [f"  data: {d}" for d in result.data]
    for c in result.comparisons:
        out.append("")
        out.append(summary_line(c))
        out.append(f"  precision: original {c.original_precision.dtype}"
                   + (f" ({'; '.join(c.original_precision.reasons)})" if c.original_precision.reasons else "")
                   + f", port {c.port_precision.dtype}"
                   + (f" ({'; '.join(c.port_precision.reasons)})" if c.port_precision.reasons else ""))
        for change in c.precision_changes:
            out.append(f"  precision change (expected, allowed for): {change}")
        out.append(f"  tolerance: {c.tolerance.describe()}")
        out.append(f"    {'quantity':<44} {'compared':>8} {'fails':>6}  worst relative error")
        out += [_quantity_row(s) for s in c.summaries]
        if c.failures:
            out.append(f"  first divergence: {describe_point(c.failures[0])}")
            others = sorted({f.quantity for f in c.failures if f.step == c.failures[0].step} - {c.failures[0].quantity})
            if others:
                out.append(f"    also at step {c.failures[0].step}: {', '.join(others)}")
            out.append(f"    {len(c.failures)} value(s) out of tolerance in all")
        out += [f"  hint: {h}" for h in c.hints]
        out += [f"  caveat: {n}" for n in c.caveats]
        out += [f"  note: {n}" for n in c.notes]
    for label, path in result.plots:
        out.append(f"  loss curves ({label}): {path}")
    if result.records_dir:
        out.append(f"  records: {result.records_dir}")
    out += [f"  note: {n}" for n in result.notes]
    out += [f"  PROBLEM: {p}" for p in result.problems]
    out.append(headline(result))
    return "\n".join(out) + "\n"


# -- JSON -----------------------------------------------------------------------------------
def _value(x: Any) -> Any:
    if isinstance(x, float):
        return encode_float(x)
    if isinstance(x, tuple):
        return [_value(v) for v in x]
    if isinstance(x, list):
        return [_value(v) for v in x]
    return x


def point_json(p: Point | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"rank": p.rank, "step": p.step, "kind": p.kind, "quantity": p.quantity,
            "index": p.index, "original": _value(p.original), "port": _value(p.port),
            "reference": _value(p.reference), "error": _value(p.error),
            "original_error": _value(p.original_error), "allowed": _value(p.allowed), "ok": p.ok,
            "detail": p.detail}


def run_json(records: RunRecords | None) -> dict[str, Any] | None:
    if records is None:
        return None
    info = records.info
    return {"role": info.role, "label": info.label, "backend": info.backend,
            "simulated": info.simulated, "precision": info.precision,
            "command": list(info.command), "host": info.host, "exit_code": info.exit_code,
            "passed": info.passed, "failure": info.failure, "versions": dict(info.versions),
            "ranks": [r.rank for r in records.ranks], "notes": list(info.notes) + list(records.notes)}


def comparison_json(c: Comparison, plot: str | None) -> dict[str, Any]:
    def precision(p: Any) -> dict[str, Any]:
        return {"dtype": p.dtype, "reasons": list(p.reasons)}

    return {
        "port": c.port.label,
        "agreed": c.agreed,
        "summary": summary_line(c),
        "ranks": list(c.ranks),
        "steps": c.steps,
        "compared": c.compared,
        "tolerance": {"ratio": c.tolerance.ratio, "factor": c.tolerance.factor,
                      "floor": c.tolerance.floor, "dtype_term": c.tolerance.dtype_term,
                      "noise_source": c.tolerance.noise_source},
        "precision": {"original": precision(c.original_precision),
                      "port": precision(c.port_precision),
                      "changes": list(c.precision_changes)},
        "first_divergence": point_json(c.first_failure),
        "hints": list(c.hints),
        "caveats": list(c.caveats),
        "quantities": [{"quantity": s.quantity, "kind": s.kind, "compared": s.compared,
                        "failures": s.failures, "explained": s.explained,
                        "worst": point_json(s.worst),
                        "first_failure": point_json(s.first_failure)} for s in c.summaries],
        "failures": [point_json(p) for p in c.failures[:MAX_FAILURES_LISTED]],
        "failures_total": len(c.failures),
        "curve": {"x": c.curve.x_label, "original": _value(list(c.curve.original)),
                  "port": _value(list(c.curve.port)),
                  "high_precision": _value(list(c.curve.reference))},
        "plot": plot,
        "notes": list(c.notes),
    }


def render_json(result: CompareResult) -> dict[str, Any]:
    plots = dict(result.plots)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "porttool-compare",
        "passed": result.passed,
        "summary": headline(result) + "".join(f"; {summary_line(c)}" for c in result.comparisons),
        "only": result.only,
        "original": run_json(result.original),
        "high_precision": run_json(result.high),
        "ports": [run_json(p) for p in result.ports],
        "comparisons": [comparison_json(c, plots.get(c.port.label)) for c in result.comparisons],
        "data": list(result.data),
        "problems": list(result.problems),
        "notes": list(result.notes),
        "records_dir": result.records_dir,
    }


# -- the picture ----------------------------------------------------------------------------
def write_plot(c: Comparison, path: Path) -> Path:
    series: list[tuple[str, str, Any]] = [("original", f"original ({c.original.label})", c.curve.original)]
    if c.curve.reference:
        series.append(("reference", "original, high precision", c.curve.reference))
    series.append(("port", f"port ({_run_name(c.port)})", c.curve.port))
    divergence = None
    if c.first_failure is not None:
        f = c.first_failure
        divergence = (f.step, f"diverges: step {f.step}, {f.quantity}")
    verdict = "agree" if c.agreed else "DIVERGE"
    subtitle = "; ".join(c.precision_changes) if c.precision_changes else "no precision change"
    svg = render_svg(series, title=f"porttool compare: original vs port ({c.port.label}): {verdict}",
                     x_label=c.curve.x_label, divergence=divergence, subtitle=subtitle,
                     y_label="loss (sum of backward() scalars in the step)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(svg, encoding="utf-8")
    tmp.replace(path)
    return path

