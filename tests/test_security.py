"""porttool reads code; it never runs it, except `porttool check -- COMMAND`, in a subprocess with a
timeout. Rule and configuration files are data. Reported paths never leave the scanned root.

Every "would run" file below writes a marker file when imported or executed; the tests assert
the markers never appear.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

CUDA = "import torch\nx = torch.ones(2).cuda()\n"


def _payload(marker: Path, name: str) -> str:
    return f"import pathlib\npathlib.Path({str(marker)!r}).joinpath({name!r}).write_text('ran')\n"


def _hostile_project(tmp_path: Path) -> tuple[Path, Path]:
    """A project whose every importable file writes a marker, and which porttool has work in."""
    root, markers = tmp_path / "proj", tmp_path / "markers"
    markers.mkdir()
    files = {
        "train.py": _payload(markers, "train") + CUDA + "if __name__ == '__main__':\n    open('main-ran', 'w')\n",
        "conftest.py": _payload(markers, "conftest") + CUDA,
        "setup.py": _payload(markers, "setup") + "from setuptools import setup\nsetup(name='x')\n",
        "pkg/__init__.py": _payload(markers, "init") + CUDA,
        "pkg/__main__.py": _payload(markers, "main") + CUDA,
        "sitecustomize.py": _payload(markers, "sitecustomize"),
        "usercustomize.py": _payload(markers, "usercustomize"),
        # modules porttool itself imports: shadows would run if the tree were put on sys.path
        "typer.py": _payload(markers, "typer"),
        "libcst.py": _payload(markers, "libcst"),
        "pathspec.py": _payload(markers, "pathspec"),
        "torch.py": _payload(markers, "torch"),
        "notebook.ipynb": json.dumps(
            {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": [_payload(markers, "notebook"), CUDA]}],
             "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        ),
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "evil.pth").write_text(f"import pathlib; pathlib.Path({str(markers)!r}).joinpath('pth').write_text('ran')\n")
    return root, markers


def _console_script() -> list[str] | None:
    script = Path(sys.executable).parent / "porttool"
    return [str(script)] if script.exists() else None


def test_scan_and_rewrite_never_import_or_run_the_code_they_read(tmp_path, porttool_cmd):
    root, markers = _hostile_project(tmp_path)
    # from outside the tree with `python -m`, and from inside it with the installed command (the
    # pre-commit case: the working directory is the user's project)
    runs = [(porttool_cmd, tmp_path, str(root))]
    script = _console_script()
    if script is not None:
        runs.append((script, root, "."))
    for cmd, cwd, target in runs:
        for args in (["scan", target, "-f", "json", "--select", "ALL"], ["rewrite", target]):
            out = subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
            assert out.returncode in (0, 1), (args, out.stderr)
            assert "Traceback" not in out.stderr
            assert sorted(os.listdir(markers)) == [], f"{args} executed scanned code: {os.listdir(markers)}"
    out = subprocess.run([*porttool_cmd, "rewrite", str(root), "--apply", "--allow-dirty", "--target", "portable"], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 1, out.stderr
    assert ".cuda()" not in (root / "train.py").read_text()  # it did its work ...
    assert os.listdir(markers) == [] and not (root / "main-ran").exists() and not (tmp_path / "main-ran").exists()  # ... and ran nothing


def test_scan_and_rewrite_never_import_torch(tmp_path):
    (tmp_path / "cuda.py").write_text(CUDA + "torch.cuda.synchronize()\n")
    code = (
        "import sys\nfrom porttool.cli import main\n"
        "for argv in (['scan', {p!r}, '-f', 'json'], ['rewrite', {p!r}], ['rewrite', {p!r}, '--apply', '--allow-dirty']):\n"
        "    sys.argv = ['porttool', *argv]\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
        "    assert 'torch' not in sys.modules, argv\n"
    ).format(p=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert "to(\"neuron\")" in (tmp_path / "cuda.py").read_text()


# --------------------------------------------------------------------------- rules and config are data
def _rule_file(directory: Path, marker: Path, **overrides: str) -> Path:
    code = f"__import__('pathlib').Path({str(marker)!r}).write_text('ran')"
    fields = {
        "summary": code,
        "why": f"{{name.__class__}} {code}",
        "message": "{name.__init__.__globals__} " + code,
        "known_problems": code,
        "title": code,
        "template": '"{__pt_args__}"',
    }
    fields.update(overrides)
    text = f'''code = "PT099"
name = "evil-rule"
summary = {json.dumps(fields["summary"])}
message = {json.dumps(fields["message"])}
why = {json.dumps(fields["why"])}
known_problems = {json.dumps(fields["known_problems"])}
severity = "error"
valid = [{json.dumps(code)}]

[match]
kind = "call"
names = ["os.system"]

[fix.neuron]
action = "manual"
guidance = {json.dumps(code)}

[fix.portable]
action = "manual"
guidance = {json.dumps(code)}

[fix.neuron-xla]
action = "manual"
guidance = {json.dumps(code)}

''' + "".join(f'[[examples]]\ntarget = "{t}"\nbefore = """\nimport os\nos.system("true")\n"""\n' for t in ("neuron", "portable", "neuron-xla"))
    path = directory / "misc" / "PT099-evil-rule.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_rule_files_with_code_in_their_values_are_only_data(tmp_path, run_cli):
    marker = tmp_path / "rule-ran"
    rules = tmp_path / "rules"
    _rule_file(rules, marker)
    (tmp_path / "evil_handler.py").write_text(f"open({str(marker)!r}, 'w')\n")
    target = tmp_path / "t.py"
    target.write_text("import os\nos.system('true')\n" + CUDA)
    code, out, err = run_cli("scan", str(target), "--rules-dir", str(rules), "-f", "json", cwd=tmp_path)
    assert code == 1, err
    (finding,) = [f for f in json.loads(out)["findings"] if f["code"] == "PT099"]
    assert "__import__" in finding["message"] or "__globals__" in finding["message"]  # shown as text
    for args in (["rewrite", str(target), "--mark-unfixed"], ["rules", "-f", "markdown"], ["rules", "-f", "json"]):
        code, out, err = run_cli(*args, "--rules-dir", str(rules), cwd=tmp_path)
        assert code in (0, 1), err
        assert "PT099" in out or "PT099" in err
    assert not marker.exists()


def test_a_rule_naming_a_foreign_handler_cannot_load_code(tmp_path, run_cli):
    marker = tmp_path / "handler-ran"
    rules = tmp_path / "rules"
    (rules / "misc").mkdir(parents=True)
    # a handler module next to the rule and in the working directory: only porttool/rewrite/handlers/ counts
    for place in (rules, rules / "misc", tmp_path):
        (place / "evil.py").write_text(f"open({str(marker)!r}, 'w')\ndef rewrite(node, ctx):\n    return node\n")
    (rules / "misc" / "PT098-evil-handler.toml").write_text(
        'code = "PT098"\nname = "evil-handler"\nsummary = "s"\nwhy = "w"\nseverity = "error"\nvalid = ["x = 1"]\n'
        '[match]\nkind = "call"\nnames = ["os.system"]\n'
        + "".join(f'[fix.{t}]\naction = "rewrite"\napplicability = "safe"\ntitle = "t"\nhandler = "evil"\n' for t in ("neuron", "portable", "neuron-xla"))
        + "".join(f'[[examples]]\ntarget = "{t}"\nbefore = "import os\\nos.system(\\"x\\")\\n"\nafter = "import os\\nos.system(\\"x\\")\\n"\n' for t in ("neuron", "portable", "neuron-xla"))
    )
    target = tmp_path / "t.py"
    source = "import os\nos.system('true')\n"
    target.write_text(source)
    code, out, err = run_cli("rewrite", str(target), "--rules-dir", str(rules), "-f", "json", cwd=tmp_path)
    assert code == 0 and "Traceback" not in out + err, err  # the site is declined, nothing changes
    assert json.loads(out)["summary"]["declined"] == {"PT098": 1}
    assert not marker.exists() and target.read_text() == source


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        ("target", "\"__import__('os').system('touch MARK')\"", "target"),
        ("select", "[\"__import__('os').system('touch MARK')\"]", "selector"),
        ("fail-on", "\"exec('open(\\\\'MARK\\\\', \\\\'w\\\\')')\"", "fail-on"),
        ("rules-dirs", "[\"$(touch MARK)\"]", "MARK"),
        ("exclude", "[\"`touch MARK`\", \"$(touch MARK)\"]", None),
    ],
)
def test_config_values_holding_code_are_data(tmp_path, run_cli, key, value, expect):
    (tmp_path / "pyproject.toml").write_text(f"[tool.porttool]\n{key} = {value}\n")
    (tmp_path / "t.py").write_text(CUDA)
    code, out, err = run_cli("scan", str(tmp_path), "-f", "json", cwd=tmp_path)
    if expect is None:  # a harmless glob: the scan runs
        assert code == 1 and json.loads(out)["findings"]
    else:  # a clear configuration error naming the key
        assert code == 2 and expect in err and "Traceback" not in err
    assert not list(tmp_path.rglob("MARK")) and not Path("MARK").exists()


# --------------------------------------------------------------------------- check runs code only when asked
def test_check_without_a_command_runs_no_user_code(tmp_path, porttool_cmd):
    root, markers = _hostile_project(tmp_path)
    # from inside the project when the installed command exists: `check` imports torch, and the
    # project's own `torch.py` must not be the one it gets
    cmd, cwd, target = (_console_script(), root, ".") if _console_script() else (porttool_cmd, tmp_path, str(root))
    out = subprocess.run([*cmd, "check", target, "-f", "json"], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode in (0, 1), out.stderr
    doc = json.loads(out.stdout)
    assert doc["run"] is None and doc["static"]["files"] >= 5
    assert os.listdir(markers) == []


def test_check_runs_the_command_in_a_subprocess(tmp_path, porttool_cmd):
    marker = tmp_path / "pid"
    script = tmp_path / "job.py"
    script.write_text(f"import os\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\n")
    proc = subprocess.Popen([*porttool_cmd, "check", "--backend", "mock", "--timeout", "60", "--", sys.executable, str(script)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    assert int(marker.read_text()) != proc.pid  # run by a child, not inside porttool


def test_check_kills_a_command_past_its_timeout(tmp_path, porttool_cmd):
    sleeper = tmp_path / "sleeper.py"
    sleeper.write_text("import time\nprint('sleeping', flush=True)\ntime.sleep(120)\nopen('woke', 'w')\n")
    start = time.monotonic()
    out = subprocess.run([*porttool_cmd, "check", "--backend", "mock", "--timeout", "2", "--", sys.executable, str(sleeper)], cwd=tmp_path, capture_output=True, text=True, timeout=100, check=False)
    took = time.monotonic() - start
    assert out.returncode == 1
    assert "timed out" in (out.stdout + out.stderr).lower()
    assert took < 60 and not (tmp_path / "woke").exists()


# --------------------------------------------------------------------------- paths stay inside the root
def test_report_paths_never_escape_the_scanned_root_through_symlinks(tmp_path, run_cli):
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "secret.py").write_text(CUDA)
    (outside / "deep" / "more.py").write_text(CUDA)
    root = tmp_path / "root"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "own.py").write_text(CUDA)
    os.symlink(outside, root / "linked_dir")
    os.symlink(outside / "secret.py", root / "pkg" / "linked_file.py")
    os.symlink("../../outside/deep/more.py", root / "pkg" / "relative_link.py")
    os.symlink(tmp_path, root / "pkg" / "up")
    for cwd in (root, tmp_path):
        code, out, err = run_cli("scan", str(root) if cwd == tmp_path else ".", "-f", "json", cwd=cwd)
        assert code == 1, err
        doc = json.loads(out)
        paths = {f["path"] for f in doc["findings"]} | {d["path"] for d in doc["diagnostics"]}
        assert paths, "the file inside the root must be found"
        for p in paths:
            assert (cwd / p).resolve().is_relative_to(root.resolve()), p
            assert not p.startswith("/") and "linked" not in p and "relative_link" not in p and "/up/" not in p
        code, out, err = run_cli("rewrite", str(root) if cwd == tmp_path else ".", cwd=cwd)
        headers = [line[4:] for line in out.splitlines() if line.startswith(("--- ", "+++ "))]
        assert headers and all("outside" not in h and "linked" not in h for h in headers)
    code, _, _ = run_cli("rewrite", str(root), "--apply", "--allow-dirty", cwd=tmp_path)
    assert (outside / "secret.py").read_text() == CUDA and (outside / "deep" / "more.py").read_text() == CUDA
