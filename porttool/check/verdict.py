"""The check's verdict: both stages' results in one report (text for people, JSON for machines).

Exit 0 only when every stage that ran passed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TextIO

from porttool.check import runtime_report

if TYPE_CHECKING:
    from porttool.check.compare.report import CompareResult
    from porttool.check.runtime_report import RunStageResult
    from porttool.check.static import StaticResult

SCHEMA_VERSION = 1


def passed(static: StaticResult | None, run: RunStageResult | None, compare: CompareResult | None = None) -> bool:
    return (static is None or static.passed) and (run is None or run.passed) and (compare is None or compare.passed)


def render_json(static: StaticResult | None, run: RunStageResult | None, target: str, stream: TextIO, compare: CompareResult | None = None) -> None:
    doc = {
        "schema_version": SCHEMA_VERSION,
        "target": target,
        "passed": passed(static, run, compare),
        "static": None if static is None else {
            "passed": static.passed,
            "files": static.files,
            "torch_version": static.torch_version,
            "notes": list(static.notes),
            "problems": [vars(p) for p in static.problems],
        },
        "run": None if run is None else run.to_json(),
    }
    if compare is not None:  # check --compare (docs/compare-schema.json)
        from porttool.check.compare.report import render_json as compare_json

        doc["compare"] = compare_json(compare)
    stream.write(json.dumps(doc, indent=2, default=lambda o: o.__dict__) + "\n")


def render_text(static: StaticResult | None, run: RunStageResult | None, target: str, stream: TextIO, compare: CompareResult | None = None) -> None:
    out: list[str] = []
    if static is not None:
        out.append(f"static stage ({static.files} files, torch {static.torch_version or 'not installed'}): {'PASSED' if static.passed else 'FAILED'}")
        out += [f"  {p.path}:{p.line}:{p.column}: {p.code + ' ' if p.code else ''}{p.message}" for p in static.problems]
        out += [f"  note: {n}" for n in static.notes]
    if run is not None:
        out.append(runtime_report.render_text(run).rstrip("\n"))
    if compare is not None:
        from porttool.check.compare.report import render_text as compare_text

        out.append(compare_text(compare).rstrip("\n"))
    out.append(f"porttool check --target {target}: {'PASSED' if passed(static, run, compare) else 'FAILED'}")
    stream.write("\n".join(out) + "\n")
