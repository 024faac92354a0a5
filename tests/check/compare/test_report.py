"""The compare report: its JSON against docs/compare-schema.json, the text's one-line summary, and
the SVG picture of the loss curves."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from compare_helpers import make_rank, make_run

from porttool.check.compare.curves import render_svg
from porttool.check.compare.judge import compare_runs
from porttool.check.compare.report import CompareResult, render_json, render_text, summary_line, write_plot

REPO = Path(__file__).resolve().parents[3]
LOSSES = [3.3, 3.2, 3.1, 3.0, 2.9]
SVG = "{http://www.w3.org/2000/svg}"


def schema() -> dict:
    return json.loads((REPO / "docs" / "compare-schema.json").read_text(encoding="utf-8"))


def results() -> tuple[CompareResult, CompareResult]:
    original = make_run("original", make_rank(LOSSES, logits=[(0.01, 1.0, float("inf"))] * 5))
    good = make_run("port", make_rank(LOSSES, logits=[(0.01, 1.0, float("inf"))] * 5))
    bad = make_run("port", make_rank(LOSSES[:2] + [2 * v for v in LOSSES[2:]], params=2000,
                                     logits=[(0.01, 1.0, float("inf"))] * 5), label="cpu", backend="cpu")
    agree = CompareResult(original, None, (good,), (compare_runs(original, good),))
    diverge = CompareResult(original, None, (good, bad), (compare_runs(original, good), compare_runs(original, bad)),
                            problems=("the port (cpu) failed: exit status 1",), notes=("n",), plots=(("cpu", "x.svg"),),
                            records_dir="rec", data=("the original is HEAD",))
    return agree, diverge


def test_json_matches_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(schema())
    validator.check_schema(schema())
    for result in results():
        doc = render_json(result)
        validator.validate(json.loads(json.dumps(doc, allow_nan=False)))  # strict JSON
    agree, diverge = results()
    assert render_json(agree)["passed"] is True and render_json(diverge)["passed"] is False
    first = render_json(diverge)["comparisons"][1]["first_divergence"]
    assert (first["step"], first["quantity"], first["original"], first["port"]) == (0, "parameter count", 1000, 2000)


def test_json_schema_rejects_an_undocumented_field() -> None:
    doc = render_json(results()[1])
    doc["comparisons"][0]["quantities"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema()).validate(doc)


def test_text_has_one_summary_line_per_port_and_the_verdict() -> None:
    agree, diverge = results()
    text = render_text(agree)
    assert "port mock (SIMULATED) AGREES with the original (cpu redirect) over 5 steps x 1 rank" in text
    assert text.rstrip().endswith("porttool compare: PASSED")
    text = render_text(diverge)
    assert "port cpu DIVERGES from the original (cpu redirect) at step 0: parameter count" in text
    assert "PROBLEM: the port (cpu) failed" in text and text.rstrip().endswith("porttool compare: FAILED")
    assert summary_line(diverge.comparisons[1]) in text


def test_svg_draws_each_curve_and_marks_the_divergence(tmp_path: Path) -> None:
    _, diverge = results()
    path = write_plot(diverge.comparisons[1], tmp_path / "curves.svg")
    root = ET.parse(path).getroot()  # well-formed XML
    assert root.tag == f"{SVG}svg"
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2  # the original and the port
    assert {ln.get("stroke") for ln in lines} == {"#1f77b4", "#d62728"}
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert any(t.startswith("diverges: step 0, parameter count") for t in texts)
    assert any("DIVERGE" in t for t in texts)


def test_svg_survives_gaps_and_single_points() -> None:
    svg = render_svg([("original", "o", [1.0, None, float("nan"), 2.0]), ("port", "p", [1.5])],
                     title="t <&>", x_label="step")
    root = ET.fromstring(svg)
    assert len(root.findall(f"{SVG}circle")) == 3  # isolated points are dots
    assert "t &lt;&amp;&gt;" in svg
    ET.fromstring(render_svg([], title="empty", x_label="step"))
