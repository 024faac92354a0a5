"""The baseline ratchet (`scan --write-baseline` / `--baseline`) and `scan --changed-since REF`."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from porttool.scan import baseline

TRAIN = """\
import torch

model = torch.nn.Linear(4, 4).cuda()
x = torch.randn(2, 4).cuda()
torch.cuda.synchronize()
print(model(x))
torch.cuda.synchronize()
"""


def _project(tmp_path: Path, text: str = TRAIN) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "train.py").write_text(text)
    (root / "clean.py").write_text("import torch\nprint(torch.ones(2))\n")
    return root


def _scan_json(run_cli, *args: str, cwd: Path | None = None):
    code, out, err = run_cli("scan", *args, "-f", "json", cwd=cwd)
    return code, json.loads(out), err


def test_write_baseline_records_every_finding_sorted_and_exits_zero(run_cli, tmp_path):
    root = _project(tmp_path)
    code, _out, err = run_cli("scan", ".", "--write-baseline", "base.json", cwd=root)
    assert code == 0, err
    data = json.loads((root / "base.json").read_text())
    assert data["schema_version"] == 1 and data["tool"] == "porttool"
    entries = data["findings"]
    assert [(e["file"], e["code"], e["line"]) for e in sorted(entries, key=lambda e: e["line"])] == [
        ("train.py", "PT001", 3),
        ("train.py", "PT001", 4),
        ("train.py", "PT105", 5),
        ("train.py", "PT105", 7),
    ]
    keys = [(e["file"], e["code"], e["fingerprint"], e["line"]) for e in entries]
    assert keys == sorted(keys)
    assert all(set(e) == {"file", "code", "fingerprint", "line", "snippet"} for e in entries)
    # the same tree gives the same bytes (no timestamps, stable order)
    first = (root / "base.json").read_bytes()
    assert run_cli("scan", ".", "--write-baseline", "base.json", cwd=root)[0] == 0
    assert (root / "base.json").read_bytes() == first


def test_baseline_hides_recorded_findings(run_cli, tmp_path):
    root = _project(tmp_path)
    assert run_cli("scan", ".", "--write-baseline", "base.json", cwd=root)[0] == 0
    code, report, err = _scan_json(run_cli, ".", "--baseline", "base.json")
    assert code == 0, err
    assert report["findings"] == []
    assert report["baseline"] == {"file": "base.json", "new": 0, "baselined": 4, "gone": []}
    assert "4 findings baselined" in err
    # without the baseline the same tree fails
    assert run_cli("scan", ".")[0] == 1


def test_baseline_survives_inserting_lines_above_its_findings(run_cli, tmp_path):
    root = _project(tmp_path)
    assert run_cli("scan", ".", "--write-baseline", "base.json", cwd=root)[0] == 0
    text = (root / "train.py").read_text()
    (root / "train.py").write_text('"""A docstring."""\nimport os\n\n\ndef helper():\n    return os.sep\n\n\n' + text.replace("print(model(x))", "y = model(x)\nprint(y)"))
    code, report, err = _scan_json(run_cli, ".", "--baseline", "base.json")
    assert code == 0, err
    assert report["findings"] == []
    assert report["baseline"]["baselined"] == 4 and report["baseline"]["gone"] == []


def test_a_new_finding_fails_and_is_the_only_one_reported(run_cli, tmp_path):
    root = _project(tmp_path)
    assert run_cli("scan", ".", "--write-baseline", "base.json", cwd=root)[0] == 0
    (root / "clean.py").write_text("import torch\nprint(torch.ones(2))\ny = torch.zeros(3).cuda()\n")
    code, report, _ = _scan_json(run_cli, ".", "--baseline", "base.json")
    assert code == 1
    assert [(f["path"], f["line"], f["code"]) for f in report["findings"]] == [("clean.py", 3, "PT001")]
    assert report["baseline"]["new"] == 1 and report["baseline"]["baselined"] == 4
    # the text report names the new finding too
    code, out, _err = run_cli("scan", ".", "--baseline", "base.json", "-f", "concise")
    assert code == 1 and "clean.py:3:" in out and "train.py" not in out
    # the text summary counts the new finding, and says why the table counts five
    code, out, _err = run_cli("scan", ".", "--baseline", "base.json")
    assert "Found 1 finding in 1 file" in out
    assert "4 findings recorded in the baseline (hidden above; the portability table counts the whole code base)." in out
    assert re.search(r"neuron \(selected\)\s+5\s+5\s+0\s+0\s+0\s+100.0%", out), out


def test_a_fixed_finding_is_reported_as_gone(run_cli, tmp_path):
    root = _project(tmp_path)
    assert run_cli("scan", ".", "--write-baseline", "base.json", cwd=root)[0] == 0
    (root / "train.py").write_text(TRAIN.replace("x = torch.randn(2, 4).cuda()", "x = torch.randn(2, 4)"))
    code, report, err = _scan_json(run_cli, ".", "--baseline", "base.json")
    assert code == 0, err
    gone = report["baseline"]["gone"]
    assert [(g["file"], g["code"], g["line"], g["snippet"]) for g in gone] == [("train.py", "PT001", 4, "x = torch.randn(2, 4).cuda()")]
    assert "1 baselined finding is gone" in err and "train.py:4: PT001" in err
    assert report["baseline"]["baselined"] == 3


def test_identical_lines_are_counted_by_occurrence(run_cli, tmp_path):
    root = _project(tmp_path)  # two identical torch.cuda.synchronize() lines
    assert run_cli("scan", ".", "--write-baseline", "base.json", cwd=root)[0] == 0
    fps = [e["fingerprint"] for e in json.loads((root / "base.json").read_text())["findings"] if e["code"] == "PT105"]
    assert len(set(fps)) == 2  # the occurrence index tells them apart
    # a third identical line is one new finding, whichever of the three it is
    (root / "train.py").write_text(TRAIN + "torch.cuda.synchronize()\n")
    code, report, _ = _scan_json(run_cli, ".", "--baseline", "base.json")
    assert code == 1
    assert [(f["code"], f["snippet"]) for f in report["findings"]] == [("PT105", "torch.cuda.synchronize()")]
    # removing one of the two leaves one baselined and one gone
    (root / "train.py").write_text(TRAIN.replace("print(model(x))\ntorch.cuda.synchronize()\n", "print(model(x))\n"))
    code, report, _ = _scan_json(run_cli, ".", "--baseline", "base.json")
    assert code == 0
    assert [(g["code"]) for g in report["baseline"]["gone"]] == ["PT105"]


def test_baseline_paths_do_not_depend_on_the_working_directory(run_cli, tmp_path):
    root = _project(tmp_path)
    assert run_cli("scan", "proj", "--write-baseline", "proj/base.json", cwd=tmp_path)[0] == 0
    assert {e["file"] for e in json.loads((root / "base.json").read_text())["findings"]} == {"train.py"}
    os.chdir(root)  # now from inside proj, naming the file: displayed paths change, keys do not
    code, report, err = _scan_json(run_cli, "train.py", "--baseline", "base.json")
    assert code == 0, err
    assert report["findings"] == [] and report["baseline"]["baselined"] == 4


def test_baseline_from_pyproject(run_cli, tmp_path):
    root = _project(tmp_path)
    (root / "pyproject.toml").write_text('[tool.porttool]\nbaseline = ".porttool-baseline.json"\n')
    assert run_cli("scan", ".", "--write-baseline", ".porttool-baseline.json", cwd=root)[0] == 0
    assert run_cli("scan", ".")[0] == 0
    (root / "clean.py").write_text("import torch\ntorch.cuda.synchronize()\n")
    code, out, _err = run_cli("scan", ".", "-f", "concise")
    assert code == 1 and "clean.py:2:" in out


def test_writing_a_subset_keeps_the_entries_of_other_files(run_cli, tmp_path):
    root = _project(tmp_path)
    (root / "other.py").write_text("import torch\ntorch.cuda.empty_cache()\n")
    assert run_cli("scan", ".", "--write-baseline", "base.json", cwd=root)[0] == 0
    before = {(e["file"], e["code"]) for e in json.loads((root / "base.json").read_text())["findings"]}
    assert ("other.py", "PT106") in before
    (root / "train.py").write_text("import torch\n")
    assert run_cli("scan", "train.py", "--write-baseline", "base.json")[0] == 0
    after = {(e["file"], e["code"]) for e in json.loads((root / "base.json").read_text())["findings"]}
    assert after == {("other.py", "PT106")}


def test_a_deleted_file_is_reported_as_gone(run_cli, tmp_path):
    root = _project(tmp_path)
    assert run_cli("scan", ".", "--write-baseline", "base.json", cwd=root)[0] == 0
    (root / "train.py").unlink()
    code, report, _ = _scan_json(run_cli, ".", "--baseline", "base.json")
    assert code == 0 and len(report["baseline"]["gone"]) == 4


@pytest.mark.parametrize(
    "content, message",
    [(None, "does not exist"), ("{not json", "not valid JSON"), ('{"findings": []}', "not a porttool baseline"), ('{"tool": "porttool", "schema_version": 1, "findings": [{"file": "a.py"}]}', "entry 0")],
)
def test_a_bad_baseline_is_a_usage_error(run_cli, tmp_path, content, message):
    root = _project(tmp_path)
    if content is not None:
        (root / "base.json").write_text(content)
    code, _out, err = run_cli("scan", ".", "--baseline", "base.json", cwd=root)
    assert code == 2
    assert message in err


def test_fingerprint_ignores_whitespace_and_line_numbers():
    from porttool.scan.findings import fingerprint

    assert fingerprint("PT001", "x.cuda( )", 0) != fingerprint("PT001", "x.cuda()", 0)
    assert fingerprint("PT001", "f(a,\n      b).cuda()", 0) == fingerprint("PT001", "f(a, b).cuda()", 0)
    assert fingerprint("PT001", "x.cuda()", 0) != fingerprint("PT001", "x.cuda()", 1)
    assert fingerprint("PT001", "x.cuda()", 0) != fingerprint("PT002", "x.cuda()", 0)


def test_compare_matches_on_file_code_and_fingerprint(tmp_path):
    entries = [baseline.Entry("a.py", "PT001", "f1", 3), baseline.Entry("b.py", "PT001", "f1", 3)]
    text = baseline.render(entries)
    path = tmp_path / "b.json"
    path.write_text(text)
    assert baseline.load(path) == sorted(entries)
    assert json.loads(text)["findings"][0]["file"] == "a.py"


# --- --changed-since --------------------------------------------------------------------------

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True, env=env).stdout


@pytest.fixture
def git_project(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text("ignored_*.py\n")
    (root / "a.py").write_text("import torch\nx = torch.ones(1).cuda()\n")
    (root / "b.py").write_text("import torch\ntorch.cuda.synchronize()\n")
    (root / "pkg").mkdir()
    (root / "pkg" / "c.py").write_text("import torch\ntorch.cuda.empty_cache()\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "one")
    return root


def test_changed_since_scans_only_changed_and_untracked_files(run_cli, git_project):
    root = git_project
    (root / "b.py").write_text("import torch\ntorch.cuda.synchronize()\ntorch.cuda.synchronize()\n")  # modified, unstaged
    (root / "new.py").write_text("import torch\ny = torch.zeros(2).cuda()\n")  # untracked
    (root / "ignored_x.py").write_text("import torch\nz = torch.zeros(2).cuda()\n")  # untracked but gitignored
    (root / "notes.txt").write_text("cuda\n")  # changed but not something discovery scans
    code, report, err = _scan_json(run_cli, ".", "--changed-since", "HEAD", cwd=root)
    assert code == 1, err
    assert report["summary"]["files_scanned"] == 2
    assert sorted({f["path"] for f in report["findings"]}) == ["b.py", "new.py"]


def test_changed_since_an_older_commit_includes_committed_changes(run_cli, git_project):
    root = git_project
    (root / "pkg" / "c.py").write_text("import torch\ntorch.cuda.empty_cache()\nprint(1)\n")
    _git(root, "commit", "-q", "-am", "two")
    code, report, _ = _scan_json(run_cli, ".", "--changed-since", "HEAD~1", cwd=root)
    assert [f["path"] for f in report["findings"]] == ["pkg/c.py"]
    # nothing changed since HEAD: nothing scanned, exit 0
    code, report, _ = _scan_json(run_cli, ".", "--changed-since", "HEAD")
    assert code == 0 and report["summary"]["files_scanned"] == 0
    # paths still narrow the scan: a changed file outside them is not scanned
    (root / "a.py").write_text("import torch\nx = torch.ones(1).cuda()\nx = x.cuda()\n")
    code, report, _ = _scan_json(run_cli, "pkg", "--changed-since", "HEAD")
    assert code == 0 and report["summary"]["files_scanned"] == 0


def test_changed_since_with_a_baseline_reports_only_new_code(run_cli, git_project):
    root = git_project
    assert run_cli("scan", ".", "--write-baseline", "base.json", cwd=root)[0] == 0
    (root / "a.py").write_text("\n\nimport torch\nx = torch.ones(1).cuda()\nw = torch.ones(1).cuda()\n")
    code, report, _err = _scan_json(run_cli, ".", "--changed-since", "HEAD", "--baseline", "base.json")
    assert code == 1
    assert [(f["path"], f["line"]) for f in report["findings"]] == [("a.py", 5)]
    assert report["baseline"]["gone"] == []  # b.py and pkg/c.py were not scanned, so nothing of theirs is gone


def test_changed_since_a_bad_ref_is_a_usage_error(run_cli, git_project):
    code, _out, err = run_cli("scan", ".", "--changed-since", "no-such-branch", cwd=git_project)
    assert code == 2
    assert "no-such-branch" in err and "not a commit" in err


def test_changed_since_outside_git_is_a_usage_error(run_cli, tmp_path):
    root = _project(tmp_path)
    code, _out, err = run_cli("scan", ".", "--changed-since", "HEAD", cwd=root)
    assert code == 2
    assert "git work tree" in err
