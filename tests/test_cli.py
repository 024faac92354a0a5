"""CLI contract: exit codes first, then parsed output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from porttool.report import rule_docs
from porttool.ruleset.registry import load_registry

REPO = Path(__file__).resolve().parent.parent
CUDA_FILE = "import torch\nmodel = torch.nn.Linear(2, 2).cuda()\ntorch.cuda.synchronize()\n"


def test_scan_exit_codes(tmp_path, run_cli):
    (tmp_path / "clean.py").write_text("import torch\nx = torch.ones(2)\n")
    code, out, err = run_cli("scan", str(tmp_path / "clean.py"))
    assert code == 0
    (tmp_path / "cuda.py").write_text(CUDA_FILE)
    code, out, err = run_cli("scan", str(tmp_path))
    assert code == 1
    code, _, _ = run_cli("scan", str(tmp_path), "--exit-zero")
    assert code == 0
    code, _, _ = run_cli("scan", str(tmp_path), "--fail-on", "error", "--select", "PT8")
    assert code == 0  # only hints selected, below the threshold
    code, _, err = run_cli("scan", str(tmp_path / "nope.py"))
    assert code == 2 and "no such file" in err
    code, _, err = run_cli("scan", str(tmp_path), "--select", "PT999")
    assert code == 2 and "PT999" in err


def test_scan_no_files_is_clean(tmp_path, run_cli):
    code, out, _ = run_cli("scan", str(tmp_path), "-f", "json")
    assert code == 0 and json.loads(out)["findings"] == []


def test_scan_json_findings(tmp_path, run_cli):
    (tmp_path / "cuda.py").write_text(CUDA_FILE)
    code, out, _ = run_cli("scan", str(tmp_path), "-f", "json", "--target", "portable")
    assert code == 1
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["target"] == "portable"
    found = {(f["code"], f["line"]) for f in doc["findings"]}
    assert {("PT001", 2), ("PT105", 3)} <= found
    assert all(f["fix"]["status"] in ("safe", "unsafe", "manual", "none") for f in doc["findings"])


def test_broken_file_is_a_diagnostic_not_a_crash(tmp_path, run_cli):
    (tmp_path / "py2.py").write_text("print 'hello'\nimport torch\ntorch.cuda.synchronize()\n")
    (tmp_path / "ok.py").write_text(CUDA_FILE)
    code, out, _ = run_cli("scan", str(tmp_path), "-f", "json")
    doc = json.loads(out)
    assert code == 1
    assert [d["code"] for d in doc["diagnostics"]] == ["PT902"]
    assert any(f["path"].endswith("ok.py") for f in doc["findings"])


def test_invalid_rule_dir_exits_2_naming_file_and_key(tmp_path, run_cli):
    bad = tmp_path / "rules" / "device"
    bad.mkdir(parents=True)
    (bad / "PT099-bad-rule.toml").write_text('code = "PT099"\nname = "bad-rule"\nsummary = "x"\nwhy = "y"\nseverity = "error"\nbogus = 1\nexamples = []\nvalid = []\n[match]\nkind = "call"\nnames = ["torch.x"]\n[fix]\n')
    code, _, err = run_cli("scan", str(tmp_path), "--rules-dir", str(tmp_path / "rules"))
    assert code == 2 and "PT099-bad-rule.toml" in err and "bogus" in err


def test_config_file_is_read_and_cli_wins(tmp_path, run_cli):
    (tmp_path / "pyproject.toml").write_text('[tool.porttool]\ntarget = "neuron-xla"\nignore = ["PT105"]\n')
    (tmp_path / "cuda.py").write_text(CUDA_FILE)
    code, out, _ = run_cli("scan", "cuda.py", "-f", "json", cwd=tmp_path)
    doc = json.loads(out)
    assert doc["target"] == "neuron-xla" and not any(f["code"] == "PT105" for f in doc["findings"])
    code, out, _ = run_cli("scan", "cuda.py", "-f", "json", "--target", "portable", cwd=tmp_path)
    assert json.loads(out)["target"] == "portable"
    (tmp_path / "pyproject.toml").write_text('[tool.porttool]\ntargett = "x"\n')
    code, _, err = run_cli("scan", "cuda.py", cwd=tmp_path)
    assert code == 2 and "targett" in err


def test_rewrite_diff_then_apply(tmp_path, run_cli):
    path = tmp_path / "cuda.py"
    path.write_text(CUDA_FILE)
    code, out, err = run_cli("rewrite", str(path))
    assert code == 1 and "-model = torch.nn.Linear(2, 2).cuda()" in out and '+model = torch.nn.Linear(2, 2).to("neuron")' in out
    assert path.read_text() == CUDA_FILE  # diff mode writes nothing
    code, out, err = run_cli("rewrite", str(path), "--apply", "--allow-dirty")
    assert code == 1 and "fixed: 2" in err
    assert path.read_text() == 'import torch\nmodel = torch.nn.Linear(2, 2).to("neuron")\ntorch.accelerator.synchronize()\n'
    code, out, _ = run_cli("rewrite", str(path), "--apply")
    assert code == 0 and out == ""  # a second run changes nothing


def test_rewrite_out_dir_leaves_source(tmp_path, run_cli):
    src = tmp_path / "proj"
    src.mkdir()
    (src / "a.py").write_text(CUDA_FILE)
    (src / "data.txt").write_text("keep me\n")
    code, _, _ = run_cli("rewrite", str(src), "--target", "portable", "--out-dir", str(tmp_path / "out"))
    assert (src / "a.py").read_text() == CUDA_FILE
    assert (tmp_path / "out" / "data.txt").read_text() == "keep me\n"
    assert "torch.accelerator.synchronize()" in (tmp_path / "out" / "a.py").read_text()


def test_apply_refuses_dirty_git_files(tmp_path, run_cli):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    path = tmp_path / "a.py"
    path.write_text("import torch\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "a.py"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"], check=True)
    path.write_text(CUDA_FILE)
    code, _, err = run_cli("rewrite", str(path), "--apply")
    assert code == 2 and "uncommitted" in err and path.read_text() == CUDA_FILE


def test_explain_and_rules(run_cli):
    code, out, _ = run_cli("explain", "PT001")
    assert code == 0 and "cuda-method-call" in out and "neuron" in out and "Before:" in out
    code, out, _ = run_cli("rules", "-f", "json")
    data = json.loads(out)
    assert code == 0 and len(data["rules"]) == len(load_registry())
    code, _, err = run_cli("explain", "PT999")
    assert code == 2


def test_readme_rule_table_is_current():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert rule_docs.update_readme(readme, load_registry()) == readme, "README rule table is stale: run `python -m porttool.report.rule_docs`"


def test_scan_never_imports_torch(tmp_path):
    (tmp_path / "cuda.py").write_text(CUDA_FILE)
    code = (
        "import sys; from porttool.cli import main; sys.argv=['porttool','scan',%r,'--exit-zero','-f','json'];\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nassert 'torch' not in sys.modules, 'scan imported torch'\n" % str(tmp_path)
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_a_pre_commit_scan_imports_only_what_it_uses(tmp_path):
    """A scan of named files (as pre-commit runs it) with a warm rule-set cache: no rich, no
    rule-file parsing (schema, tomllib for rules), no baseline or git modules, no pathspec."""
    (tmp_path / "cuda.py").write_text(CUDA_FILE)
    env = dict(os.environ, PORTTOOL_CACHE_DIR=str(tmp_path / "cache"))
    code = (
        "import sys; from porttool.cli import main; sys.argv=['porttool','scan','-f','concise',%r];\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)))\n" % str(tmp_path / "cuda.py")
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env, cwd=tmp_path)  # fills the caches
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env, cwd=tmp_path).stdout.split("\n")[-2].split()
    unwanted = ["rich", "porttool.ruleset.schema", "porttool.scan.baseline", "porttool.scan.changed_files", "pathspec", "libcst", "torch"]
    assert [m for m in unwanted if m in loaded] == []
    assert "porttool.scan.matcher" in loaded  # (the check looks at a real scan's modules)


@pytest.mark.slow
def test_installed_wheel_scans_outside_the_source_tree(tmp_path):
    """Build the wheel, install it in a fresh venv, and scan from outside the repository."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(REPO)], check=True, capture_output=True)
    wheel = next(dist.glob("porttool-*.whl"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target", str(target), str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    py = sys.executable
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "t.py").write_text(CUDA_FILE)
    out = subprocess.run([py, "-m", "porttool", "scan", "t.py", "-f", "json"], cwd=work, capture_output=True, text=True, env=env)
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert {f["code"] for f in doc["findings"]} >= {"PT001", "PT105"}
    where = subprocess.run([py, "-c", "import porttool.ruleset.registry as r; print(r.builtin_rules_dir())"], cwd=work, capture_output=True, text=True, check=True, env=env).stdout
    assert str(target) in where and str(REPO) not in where


@pytest.mark.parametrize(
    ("args", "data_end", "narration"),
    [
        (("rewrite", "cuda.py"), "+torch.accelerator.synchronize()", "porttool rewrite --target neuron: 1 of 1 files would change (diff above"),
        (("scan", "cuda.py", "-f", "json"), "}", "porttool: 1 files, "),
        (("scan", "cuda.py", "--baseline", "empty.json"), "  [*] 2 fixable with `porttool rewrite`", "porttool: baseline empty.json: 0 findings baselined"),
    ],
    ids=["rewrite-diff", "scan-json", "scan-baseline"],
)
def test_narration_comes_after_the_data_in_one_pipe(tmp_path, args, data_end, narration):
    """stdout and stderr into one pipe (`2>&1`), stdout block-buffered (no PYTHONUNBUFFERED): the
    data comes first, the narration about it after."""
    (tmp_path / "cuda.py").write_text(CUDA_FILE)
    (tmp_path / "empty.json").write_text('{"schema_version": 1, "tool": "porttool", "findings": []}')
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    out = subprocess.run([sys.executable, "-m", "porttool", *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    lines = out.stdout.splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith(narration)), None)
    assert at is not None, out.stdout
    assert data_end in lines[:at], out.stdout


HINTS_ONLY = "import torch\nfor step in range(3):\n    loss = torch.ones(1).sum()\n    print(loss.item())\n"


def test_hints_alone_do_not_fail_a_scan(tmp_path, run_cli):
    (tmp_path / "done.py").write_text(HINTS_ONLY)
    code, out, _ = run_cli("scan", "done.py", "-f", "json", cwd=tmp_path)
    doc = json.loads(out)
    assert doc["findings"] and {f["severity"] for f in doc["findings"]} == {"info"}
    assert code == 0
    assert run_cli("scan", "done.py", "--fail-on", "info", cwd=tmp_path)[0] == 1
    (tmp_path / "pyproject.toml").write_text('[tool.porttool]\nfail-on = "info"\n')
    assert run_cli("scan", "done.py", cwd=tmp_path)[0] == 1
    (tmp_path / "cuda.py").write_text(CUDA_FILE)  # new CUDA code (errors) still fails by default
    (tmp_path / "pyproject.toml").unlink()
    assert run_cli("scan", ".", cwd=tmp_path)[0] == 1


def test_rules_table_says_what_each_rule_finds(run_cli, registry):
    code, out, _ = run_cli("rules")
    assert code == 0
    lines = out.splitlines()
    for rule in registry:  # in a pipe: one line per rule, with its summary, greppable
        (row,) = [line for line in lines if line.startswith(rule.code + " ")]
        assert rule.name in row and " ".join(rule.summary.split()) in row, row
    assert "[kernels]" in lines and lines.index("[device]") < lines.index("[kernels]")
    code, out, _ = run_cli("rules", "--select", "PT70", "--target", "portable")
    rows = [line for line in out.splitlines() if line.startswith("PT")]
    assert rows and all(line.startswith("PT70") for line in rows)
    assert "neuron-xla" not in out.splitlines()[0] and "portable" in out.splitlines()[0]
    assert run_cli("rules", "--select", "PT999")[0] == 2


def test_rules_table_wraps_in_a_narrow_terminal(registry):
    text = rule_docs.rules_text(registry, ["portable"], width=90)
    table = text.split("\n\n")[0].splitlines()
    assert len(table) > len(registry) and all(len(line) <= 90 for line in table)
    row = next(i for i, line in enumerate(text.splitlines()) if line.startswith("PT002 "))
    joined = " ".join(line.strip() for line in text.splitlines()[row : row + 3])
    assert "a `\"cuda\"` device string is passed where PyTorch expects a device" in joined


def test_scan_gitlab_code_quality(tmp_path, run_cli):
    import jsonschema

    (tmp_path / "cuda.py").write_text(CUDA_FILE)
    code, out, _ = run_cli("scan", "cuda.py", "-f", "gitlab", cwd=tmp_path)
    issues = json.loads(out)
    assert code == 1
    schema = json.loads((REPO / "docs" / "gitlab-code-quality-schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(issues)
    assert [(i["check_name"].split()[0], i["location"]["lines"]["begin"], i["severity"]) for i in issues] == [("PT001", 2, "major"), ("PT105", 3, "major")]
