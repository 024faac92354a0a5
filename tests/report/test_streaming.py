"""Streamed reports (porttool.report.stream) write exactly what `render` writes for the same
results, in every format; `porttool scan` streams, and its output equals the collected report's."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from porttool import __version__
from porttool.report.scores import portability_scores
from porttool.model import (
    TARGETS,
    Diagnostic,
    FileResult,
    Finding,
    FixStatus,
    ScanReport,
    Severity,
    Site,
    Span,
)
from porttool.report import FORMATS, render
from porttool.report import stream as streaming
from porttool.report.stream import ReportStream, dumps_indented

REPO = Path(__file__).resolve().parents[2]

TEXTS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["", "a,b:c", "100% sure", "line\nbreak\r\n", '"quoted" \\ back', "ünïcødé → ok", "[bold]x[/]", ":smile:"]
)
PATHS = st.sampled_from(["a.py", "a-b.py", "a/b.py", "a/z.py", "b.ipynb", "dir x/y,z:1.py", "Ä.py", "../out.py", "/abs/p.py", "z.py"])


@st.composite
def results(draw, registry) -> list[FileResult]:  # type: ignore[no-untyped-def]
    rules = list(registry)
    paths = sorted(set(draw(st.lists(PATHS, max_size=6))))
    out: list[FileResult] = []
    for path in paths:
        for _ in range(draw(st.sampled_from([1, 1, 1, 2]))):  # sometimes the same path twice in a row
            findings = []
            for _ in range(draw(st.integers(0, 5))):
                rule = draw(st.sampled_from(rules))
                line, col = draw(st.integers(1, 30)), draw(st.integers(0, 40))
                findings.append(
                    Finding(
                        code=rule.code,
                        rule=rule.name,
                        message=draw(TEXTS),
                        path=path,
                        span=Span(line, col, line + draw(st.integers(0, 2)), draw(st.integers(0, 60))),
                        severity=draw(st.sampled_from(list(Severity))),
                        target="neuron",
                        status=draw(st.sampled_from(list(FixStatus))),
                        fix_title=draw(TEXTS),
                        guidance=draw(TEXTS),
                        behaviour_change=draw(TEXTS),
                        snippet=draw(TEXTS),
                        fingerprint=draw(st.sampled_from(["f1", "f2"])),
                        node_type="Call",
                        in_dispatch=draw(st.booleans()),
                        cell=draw(st.none() | st.integers(0, 3)) if path.endswith(".ipynb") else None,
                    )
                )
            diagnostics = [
                Diagnostic(draw(st.sampled_from(["PT902", "PT903", "PT999"])), path, draw(TEXTS), draw(st.integers(1, 9)), draw(st.integers(0, 9)))
                for _ in range(draw(st.integers(0, 2)))
            ]
            sites = [Site(f.code, f.span, "Call", in_dispatch=f.in_dispatch) for f in findings]
            out.append(FileResult(path, findings=tuple(draw(st.permutations(findings))), diagnostics=tuple(diagnostics), suppressed=draw(st.integers(0, 2)), sites=tuple(sites)))
    return out


def rendered(fmt: str, report: ScanReport, **kw) -> str:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    render(fmt, report, out, color=False, **kw) if fmt == "text" else render(fmt, report, out)
    return out.getvalue()


def streamed(fmt: str, items: list[FileResult], registry, baseline=None, **kw) -> str:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    report = ReportStream(fmt, out, target="neuron", rules=tuple(registry), version=__version__, color=False, **kw)
    report.add_all(items)
    totals = report.finish(baseline)
    assert totals.files_scanned == len(items)
    assert totals.findings == sum(len(r.findings) for r in items)
    assert totals.diagnostics == sum(len(r.diagnostics) for r in items)
    return out.getvalue()


def collected(items: list[FileResult], registry, baseline=None) -> ScanReport:  # type: ignore[no-untyped-def]
    scores = portability_scores(items, registry, TARGETS)
    return ScanReport(target="neuron", results=tuple(items), rules=tuple(registry), scores=scores, version=__version__, baseline=baseline)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_every_format_streams_exactly_what_render_writes(registry, data):
    items = data.draw(results(registry))
    report = collected(items, registry)
    for fmt in FORMATS:
        assert streamed(fmt, items, registry) == rendered(fmt, report), fmt
    assert streamed("text", items, registry, statistics=True) == rendered("text", report, statistics=True)


def test_json_baseline_section_and_empty_scans(registry):
    baseline = {"file": "b.json", "new": 1, "baselined": 2, "gone": [{"file": "x.py", "code": "PT001", "fingerprint": "f", "line": 3, "snippet": "s"}]}
    for items in ([], [FileResult("a.py")], [FileResult("a.py", diagnostics=(Diagnostic("PT902", "a.py", "bad", 1, 0),))]):
        for fmt in FORMATS:
            assert streamed(fmt, items, registry) == rendered(fmt, collected(items, registry)), fmt
        assert streamed("json", items, registry, baseline) == rendered("json", collected(items, registry, baseline))


def test_the_spool_moves_to_a_temporary_file_and_back(registry, monkeypatch):
    monkeypatch.setattr(streaming, "SPOOL_IN_MEMORY", 512)  # a few findings overflow it
    rule = registry.get("PT001")
    items = [
        FileResult(f"m{i:03}.py", findings=tuple(Finding("PT001", rule.name, f"message {j}", f"m{i:03}.py", Span(j + 1, 0, j + 1, 6), Severity.ERROR, "neuron", FixStatus.SAFE) for j in range(3)))
        for i in range(40)
    ]
    report = collected(items, registry)
    for fmt in ("json", "sarif"):
        assert streamed(fmt, items, registry) == rendered(fmt, report)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXTS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXTS, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=JSON_VALUES, level=st.integers(0, 3))
def test_dumps_indented_is_json_dumps_with_indent_2(value, level):
    expected = json.dumps(value, indent=2, ensure_ascii=True)
    assert dumps_indented(value, 0) == expected
    nested = json.dumps([[[value]]], indent=2, ensure_ascii=True)  # the same value three levels in
    assert dumps_indented(value, 3) in nested
    assert level >= 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_scan_streams_the_same_report_it_collects(fmt, tmp_path, registry, run_cli, monkeypatch):
    """`porttool scan` (streamed) against the collected report of the same scan (`run_scan`, what
    --baseline uses) rendered by `render`: byte-identical in every format."""
    from porttool import cli
    from porttool.settings import Settings

    work = tmp_path / "samples"
    shutil.copytree(REPO / "sample_models", work)
    # discovery yields a folder's files before its subfolders; reports sort by path as a string
    (work / "zz_bad.py").write_text("def broken(:\n    x.cuda()\n")
    (work / "gpt_trainer" / "a-b.py").write_text("import torch\nx = torch.zeros(1).cuda()\n")
    out_file = tmp_path / f"report.{fmt}"
    code, _, _ = run_cli("scan", ".", "-f", fmt, "-o", str(out_file), "--no-cache", cwd=work)
    assert code == 1
    monkeypatch.chdir(work)
    report = cli.run_scan([Path(".")], Settings().merged(cache=False), registry, jobs=1)
    assert report.findings and report.diagnostics
    out = io.StringIO()
    render(fmt, report, out, **({"color": False} if fmt == "text" else {}))
    assert out_file.read_text(encoding="utf-8") == out.getvalue()


def test_scan_to_stdout_and_exit_codes_follow_the_counters(tmp_path, run_cli):
    (tmp_path / "a.py").write_text("import torch\ntorch.backends.cudnn.benchmark = True\n")  # one warning
    code, out, _ = run_cli("scan", ".", "-f", "json", cwd=tmp_path)
    doc = json.loads(out)
    assert code == 1 and doc["summary"]["by_severity"] == {"error": 0, "warning": 1, "info": 0}
    assert run_cli("scan", ".", "--fail-on", "error", cwd=tmp_path)[0] == 0
    assert run_cli("scan", ".", "--fail-on", "warning", cwd=tmp_path)[0] == 1
    assert run_cli("scan", ".", "--exit-zero", cwd=tmp_path)[0] == 0
    (tmp_path / "b.py").write_text("def broken(:\n    x.cuda()\n")
    assert run_cli("scan", ".", "--fail-on", "error", cwd=tmp_path)[0] == 1  # a file that could not be scanned fails the run
    assert run_cli("scan", ".", "-o", str(tmp_path / "no" / "such" / "dir" / "r.txt"), cwd=tmp_path)[0] == 2
    assert not os.path.exists(tmp_path / "no")
