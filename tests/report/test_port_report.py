"""`porttool report`: the effort levels in the rule files, the estimate, the kernel index and
triage, the page's counts against `porttool scan`'s, and both renderers (the HTML page in a real
browser is tests/report/test_report_browser.py)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from porttool.model import TARGETS, Effort, Finding, FixStatus, Severity, Span
from porttool.report import html_page, markdown_page
from porttool.report.effort import HOURS, KERNEL_CODES, python_estimate
from porttool.report.kernel_guidance import kind_of
from porttool.report.port_report import collect
from porttool.ruleset.schema import RuleError, parse_rule
from porttool.scan.kernel_index import LinkNames, kernel_definitions, kernel_references, parse_source
from porttool.scan.kernel_project import sources_match
from porttool.scan.native_sources import native_facts
from porttool.settings import Settings

from kernel_fixture import write_project

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_models"


# -- effort in the rule format --------------------------------------------------------------------


def _rule_data(**extra):
    data = {
        "code": "PT099",
        "name": "demo-rule",
        "summary": "demo",
        "why": "demo",
        "severity": "warning",
        "match": {"kind": "call", "names": ["torch.cuda.demo"]},
        "fix": {t: {"action": "manual", "guidance": "do it by hand"} for t in TARGETS},
        "examples": [{"target": t, "before": "import torch\ntorch.cuda.demo()\n"} for t in TARGETS],
        "valid": ["x = 1\n"],
    }
    data.update(extra)
    return data


def test_effort_is_read_with_a_per_target_override():
    data = _rule_data(effort="high")
    data["fix"]["portable"]["effort"] = "low"
    rule = parse_rule(data, "rules/device/PT099-demo-rule.toml")
    assert rule.effort is Effort.HIGH
    assert [rule.effort_for(t) for t in TARGETS] == [Effort.HIGH, Effort.LOW, Effort.HIGH]


def test_effort_defaults_to_medium_for_a_user_rule_without_it():
    assert parse_rule(_rule_data(), "rules/device/PT099-demo-rule.toml").effort is Effort.MEDIUM


@pytest.mark.parametrize("where", ["top", "fix"])
def test_a_bad_effort_names_the_file_and_key(where):
    data = _rule_data()
    if where == "top":
        data["effort"] = "huge"
    else:
        data["fix"]["neuron"]["effort"] = 3
    with pytest.raises(RuleError) as info:
        parse_rule(data, "rules/device/PT099-demo-rule.toml")
    assert info.value.key == ("effort" if where == "top" else "fix.neuron.effort")
    assert "PT099-demo-rule.toml" in str(info.value) and "low, medium or high" in str(info.value)


def test_every_builtin_rule_file_sets_its_effort():
    files = sorted((REPO / "rules").rglob("*.toml"))
    missing = [f.name for f in files if not re.search(r'^effort = "(low|medium|high)"$', f.read_text(encoding="utf-8"), re.M)]
    assert files and not missing


def test_kernel_rules_are_high_effort_where_they_are_kernels(registry):
    assert {registry.by_code[c].effort for c in ("PT702", "PT703", "PT704")} == {Effort.HIGH}
    assert KERNEL_CODES <= set(registry.by_code)


# -- the estimate ---------------------------------------------------------------------------------


def _finding(code: str, status: FixStatus, target: str = "neuron", path: str = "a.py", line: int = 1) -> Finding:
    return Finding(code, "r", "m", path, Span(line, 0, line, 1), Severity.ERROR, target, status)


def test_python_estimate_weighs_each_status_and_skips_kernel_work(registry):
    rules = {r.code: r for r in registry}
    findings = [
        _finding("PT001", FixStatus.SAFE),  # 0
        _finding("PT003", FixStatus.UNSAFE),  # review: low
        _finding("PT110", FixStatus.MANUAL),  # low
        _finding("PT009", FixStatus.MANUAL),  # medium
        _finding("PT113", FixStatus.MANUAL),  # high
        _finding("PT190", FixStatus.NONE),  # hint: 0
        _finding("PT703", FixStatus.MANUAL),  # kernel scope: not here
    ]
    estimate = python_estimate(findings, rules)
    assert estimate.hours == HOURS[Effort.LOW] * 2 + HOURS[Effort.MEDIUM] + HOURS[Effort.HIGH] == 10.5
    assert estimate.formula() == "1 × 0.25 h + 1 × 0.25 h + 1 × 2 h + 1 × 8 h = 10.5 h"


# -- native sources and the Python index ----------------------------------------------------------


def test_native_facts_find_kernels_main_bindings_and_includes():
    facts = native_facts("k.cu", '#include "a.cuh"\n// __global__ void gone() {}\n/* __global__ void gone2() {} */\n'
                         'template <int B> __global__ void __launch_bounds__(128) k1(float* x) {}\n__global__ void k2() {}\n'
                         'const char* s = "__global__ void in_a_string()";\n'
                         'TORCH_LIBRARY(myops, m) { m.def("fused(Tensor x) -> Tensor"); }\nint main(int argc, char** argv) { return 0; }\n')
    assert facts.kernels == ("k1", "k2")
    assert facts.has_main and facts.includes == ("a.cuh",)
    assert facts.bindings == ("fused",) and facts.library == "myops"
    assert facts.lines == 8


def _parsed(text: str, path: str = "m.py"):
    parsed = parse_source(path, text)
    assert parsed is not None
    return parsed


def test_definitions_builds_triton_kernels_and_ops():
    text = '''
import os
import triton
import torch
from torch.utils.cpp_extension import CUDAExtension, load, load_inline

HERE = os.path.dirname(__file__)
SRC = "__global__ void k(float* x) {}\\n__global__ void j() {}\\n"
ext = load(name="jit_ext", sources=[os.path.join(HERE, "csrc", "a.cu"), "b.cpp"])
inl = load_inline(name="inl", cpp_sources="", cuda_sources=SRC, functions=["k_launch"])
mods = [CUDAExtension("pkg._C", sources=["csrc/x.cu"] + ["csrc/y.cu"])]


@triton.autotune(configs=[], key=["n"])
@triton.jit
def tuned(x_ptr, n):
    pass


def plain(x_ptr):
    pass


plain = triton.heuristics({"B": lambda a: 1})(plain)


@torch.library.triton_op("mylib::op", mutates_args=())
def op(x):
    torch.library.wrap_triton(tuned)[(1,)](x, 1)
    return x
'''
    d = kernel_definitions(_parsed(text))
    builds = {b.name: b for b in d.builds}
    assert set(builds) == {"jit_ext", "inl", "pkg._C"}
    assert builds["jit_ext"].sources == ("*/csrc/a.cu", "b.cpp") and builds["jit_ext"].bound_to == "ext"
    assert builds["inl"].inline is not None and builds["inl"].inline.kernels == ("k", "j") and builds["inl"].functions == ("k_launch",)
    assert builds["pkg._C"].sources == ("csrc/x.cu", "csrc/y.cu")
    kernels = {k.name: k for k in d.triton_kernels}
    assert set(kernels) == {"tuned", "plain"}
    assert kernels["tuned"].marks == (14, 15) and kernels["tuned"].first_line == 14
    assert 24 in kernels["plain"].marks  # plain = triton.heuristics(...)(plain)
    (op,) = d.triton_ops
    assert op.op == "mylib::op" and op.function == "op" and "tuned" in op.launches


def test_sources_match_relative_unknown_prefix_and_globs():
    assert sources_match("pkg/csrc/a.cu", "pkg/setup.py", "csrc/a.cu")
    assert not sources_match("other/csrc/a.cu", "pkg/setup.py", "csrc/a.cu")
    assert sources_match("deep/pkg/csrc/a.cu", "x.py", "*/csrc/a.cu")
    assert sources_match("pkg/csrc/k1.cu", "pkg/setup.py", "csrc/*.cu")
    assert not sources_match("pkg/csrc/k1.cpp", "pkg/setup.py", "csrc/*.cu")


def test_references_follow_imports_calls_launches_and_ops():
    text = '''
import fastops_cuda as fc
from pkg import wrapper
from operator import add
import torch


def f(x):
    fc.run(x)
    torch.ops.mylib.op(x)
    torch.ops.mylib.op.default(x)
    kern[(1,)](x)
    wrapper(x)
    add(1, 2)
'''
    names = LinkNames(modules=frozenset({"fastops_cuda"}), kernels=frozenset({"wrapper", "add"}), ops=frozenset({"mylib::op"}), local_names=frozenset({"kern"}), project_modules=frozenset({"pkg"}))
    refs = {(r.place.line, r.name, r.kind, r.spelled) for r in kernel_references(_parsed(text), names)}
    assert refs == {
        (2, "fastops_cuda", "import", ""),
        (9, "fastops_cuda", "call", "fc.run"),
        (10, "mylib::op", "op", "torch.ops.mylib.op"),
        (11, "mylib::op", "op", "torch.ops.mylib.op.default"),
        (12, "kern", "launch", "kern"),
        (13, "wrapper", "call", "wrapper"),
    }  # `add` comes from the standard library, not the project: no link
    assert all(r.place.scope == "f" for r in kernel_references(_parsed(text), names) if r.kind != "import")


def test_kernel_kinds_from_names():
    assert kind_of(["softmax_kernel4", "attention_query_key_kernel1"], "attention_forward").key == "attention"
    assert kind_of([], "layernorm_backward").key == "normalization"
    assert kind_of([], "global_norm").key == "reduction"
    assert kind_of(["_exact_forward_kernel"], "").key == "custom"
    assert kind_of(["geglu"], "_exact_forward_kernel").key == "activation"


# -- triage and the page model on the fixture project ---------------------------------------------


@pytest.fixture
def project(tmp_path, monkeypatch):
    write_project(tmp_path / "proj")
    monkeypatch.chdir(tmp_path / "proj")
    monkeypatch.setenv("PORTTOOL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "proj"


def _collect(registry, targets=TARGETS, path: Path = Path(".")):
    return collect([path], Settings(), registry, list(targets), version="test")


def test_triage_links_every_kernel_to_the_python_that_reaches_it(project, registry):
    report = _collect(registry)
    items = {i.name: i for i in report.triage.items}
    assert set(items) == {"csrc/softmax_kernel.cu", "csrc/common.cuh", "fastops_cuda", "_scale_kernel", "add", "bench/standalone.cu", "bench/bench_util.cuh"}
    cu = items["csrc/softmax_kernel.cu"]
    assert cu.kernels == ("softmax_kernel1", "softmax_kernel2") and cu.units == 2 and cu.reach == "python"
    assert [(b.builder, b.place.path) for b in cu.builds] == [("CUDAExtension", "setup.py")]
    hops = {(h.level, h.place.path, h.place.line, h.kind) for h in cu.hops}
    assert {(0, "fastops/ops.py", 3, "import"), (0, "fastops/ops.py", 7, "call"), (1, "train.py", 8, "call")} <= hops
    header = items["csrc/common.cuh"]
    assert header.included_by == ("csrc/softmax_kernel.cu",) and header.units == 0 and header.reach == "python"
    scale = items["_scale_kernel"]
    assert {(h.level, h.place.path, h.place.line, h.kind) for h in scale.hops} >= {(0, "fastops/ops.py", 21, "launch"), (1, "train.py", 8, "call")}
    assert all(h.place.path != "utils.py" for h in items["add"].hops)  # `from operator import add`
    assert items["bench/standalone.cu"].reach == "standalone" and items["bench/bench_util.cuh"].reach == "standalone"
    assert items["fastops_cuda"].form == "build" and items["fastops_cuda"].lines == sum(len(p.read_text().splitlines()) for p in (project / "csrc").glob("[bs]*.c*"))


def test_every_kernel_finding_lands_in_exactly_one_place(project, registry):
    report = _collect(registry)
    for target in TARGETS:
        view = report.views[target]
        kernel = [f for f in view.findings if f.code in KERNEL_CODES]
        mapped = [f for i in view.items for f in i.findings_for(target)] + list(view.other_kernel_findings)
        assert sorted(map(Finding.sort_key, mapped)) == sorted(map(Finding.sort_key, kernel))
        assert {f.code for f in view.other_kernel_findings} == {"PT712"}


def test_estimates_keep_python_kernels_and_programs_apart(project, registry):
    view = _collect(registry, ["neuron"]).views["neuron"]
    high, medium, low = HOURS[Effort.HIGH], HOURS[Effort.MEDIUM], HOURS[Effort.LOW]
    # softmax_kernel.cu: 2 kernels; common.cuh: 0 (a header it includes); two Triton kernels; one build; `import triton`
    assert view.kernel_estimate.hours == 2 * high + 0 + 2 * high + medium + low
    assert view.program_estimate.hours == 2 * high  # standalone.cu and the kernel in its header
    assert view.python["manual"] == 0 and view.python_estimate.hours == 0
    assert view.python["score"] == 100.0 and view.overall["score"] < 50  # the kernels do not drown the Python port
    # the heat map adds up to the estimates
    assert sum(r.python_hours for r in view.dirs) == view.python_estimate.hours
    assert sum(r.kernel_hours for r in view.dirs) == view.kernel_estimate.hours
    assert sum(r.program_hours for r in view.files) == view.program_estimate.hours


@pytest.mark.parametrize("sample", ["cuda_extension", "image_classifier", "multi_backend", "gpt_trainer"])
def test_counts_are_the_scans_counts(sample, registry, run_cli, monkeypatch, tmp_path):
    """Every number on the page is a count of `porttool scan --target T`'s own findings."""
    monkeypatch.setenv("PORTTOOL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(SAMPLES / sample)
    report = _collect(registry)
    for target in TARGETS:
        _, out, _ = run_cli("scan", ".", "--target", target, "-f", "json", "--exit-zero")
        summary = json.loads(out)["summary"]
        view = report.views[target]
        assert view.by_status == summary["by_status"]
        assert int(view.overall["sites"]) == summary["findings"] == len(view.findings)
        assert int(view.python["sites"]) + int(view.kernel["sites"]) == summary["findings"]
        for key in ("safe", "unsafe", "manual"):
            assert int(view.overall[key]) == summary["by_status"][key]
        assert int(view.overall["hint"]) == summary["by_status"]["none"]
        assert sum(len(g.findings) for g in view.groups) + sum(len(i.findings_for(target)) for i in view.items) == summary["findings"]
    assert report.files_scanned == summary["files_scanned"]


# -- renderers ------------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.resources: list[tuple[str, str]] = []
        self.links: list[str] = []
        self.stack: list[str] = []
        self.unbalanced: list[str] = []

    VOID = {"meta", "input", "br", "rect", "link", "img"}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "link", "source", "video", "audio", "object", "embed") and (attrs.get("src") or attrs.get("href")):
            self.resources.append((tag, attrs.get("src") or attrs.get("href") or ""))
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.unbalanced.append(tag)
        else:
            self.stack.pop()


def test_html_is_self_contained_well_formed_and_deterministic(project, registry):
    report = _collect(registry)
    page = html_page.page(report)
    tags = _Tags()
    tags.feed(page)
    assert tags.resources == []  # no script, style sheet, image or frame from anywhere
    assert not re.search(r"@import|url\(", page)
    assert tags.unbalanced == [] and tags.stack == []
    assert all(link.startswith(("#", "https://")) for link in tags.links)
    assert page == html_page.page(_collect(registry))
    assert page.count('<svg class="chart"') >= 4
    for item in report.triage.items:
        assert f'id="{item.key}"' in page


def _tables(markdown: str) -> list[list[str]]:
    tables, current = [], []
    for line in markdown.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def _cells(row: str) -> int:
    return len(re.split(r"(?<!\\)\|", row.strip().strip("|")))


def test_markdown_renders_as_github_tables_and_details(project, registry):
    from markdown_it import MarkdownIt

    report = _collect(registry)
    text = markdown_page.page(report)
    tables = _tables(text)
    assert len(tables) >= 6
    for table in tables:
        assert re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", table[1]), table[:2]
        assert {_cells(row) for row in table} == {_cells(table[0])}, table[0]
    assert text.count("<details>") == text.count("</details>") > 0
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert html.count("<table>") == len(tables)
    assert "<summary>" in html and "<details>" in html
    view = report.views[report.primary]
    assert f"| **neuron** | {float(view.python['score']):.1f}% |" in text
    assert view.python_estimate.formula() in text and view.kernel_estimate.formula() in text


def test_report_command(project, run_cli):
    code, out, err = run_cli("report", ".", "--format", "markdown")
    assert code == 0 and out.startswith("# Porting report") and "porttool report: report on stdout" in err
    code, _, err = run_cli("report", ".", "--all-targets", "-o", "page.html")
    assert code == 0 and "wrote page.html" in err
    page = (project / "page.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and all(f'data-target="{t}"' in page for t in TARGETS)
    code, _, _ = run_cli("report", ".", "-o", "r.md")
    assert code == 0 and (project / "r.md").read_text(encoding="utf-8").startswith("# Porting report")
    assert run_cli("report", ".", "--all-targets", "--target", "portable", "--format", "markdown")[0] == 2
    code, _, err = run_cli("report", ".", "--format", "markdown", "-o", "r.html")
    assert code == 2 and "does not match" in err
    code, _, err = run_cli("report", "missing-dir", "--format", "markdown")
    assert code == 2 and "missing-dir" in err


def test_report_refuses_to_write_html_to_a_terminal(project, porttool_cmd):
    """HTML on a terminal is noise: without -o the page goes only to a pipe or a file."""
    import os
    import subprocess

    main, replica = os.openpty()
    try:
        done = subprocess.run([*porttool_cmd, "report", "."], stdout=replica, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(replica)
    os.set_blocking(main, False)
    try:
        printed = os.read(main, 65536)
    except OSError:  # nothing was written (EAGAIN), or the terminal's other end is closed (EIO on Linux)
        printed = b""
    os.close(main)
    assert done.returncode == 2 and "-o report.html" in done.stderr and printed == b""


def test_scan_does_not_import_the_report_page(tmp_path):
    import subprocess
    import sys

    (tmp_path / "a.py").write_text("import torch\nx = torch.zeros(1).cuda()\n")
    code = (
        "import sys; from porttool.cli import main; sys.argv=['porttool','scan',%r,'--exit-zero','-f','json'];\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "loaded = [m for m in sys.modules if m.startswith(('porttool.report.html_page', 'porttool.report.page_model', 'porttool.scan.kernel'))]\n"
        "assert not loaded, loaded\n" % str(tmp_path)
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_a_notebooks_kernels_are_placed_by_cell(tmp_path, monkeypatch, registry):
    cells = [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": ["import triton\n", "\n", "@triton.jit\n", "def add_kernel(x, n):\n", "    pass\n"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": ["import torch\n", "\n", "@triton.jit\n", "def other_kernel(x, n):\n", "    pass\n"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": ["x = torch.ones(4)\n", "add_kernel[(1,)](x, 4)\n"]},
    ]
    (tmp_path / "demo.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    monkeypatch.chdir(tmp_path)
    report = _collect(registry, ["neuron"])
    items = {i.name: i for i in report.triage.items}
    # the two kernels sit on the same lines of different cells: each PT704 finds its own kernel
    assert (items["add_kernel"].cell, items["add_kernel"].line) == (0, 4) and (items["other_kernel"].cell, items["other_kernel"].line) == (1, 4)
    assert [f.cell for f in items["add_kernel"].findings] == [0] and [f.cell for f in items["other_kernel"].findings] == [1]
    assert [(h.place.cell, h.place.line, h.kind) for h in items["add_kernel"].hops] == [(2, 2, "launch")]
    assert "demo.ipynb:cell 1:4" in markdown_page.page(report)
