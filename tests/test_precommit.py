"""The pre-commit hooks (.pre-commit-hooks.yaml), run by the real `pre-commit` in a temporary git
repository whose .pre-commit-config.yaml points at a snapshot of this working tree.

pre-commit builds the hook environment itself (a virtualenv + `pip install .` of the snapshot,
dependencies from the package index), exactly as it would for a user. Marked `slow` so it can be
deselected with `-m "not slow"`; it runs in the default suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent

GIT_ENV = {
    "GIT_AUTHOR_NAME": "porttool-test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "porttool-test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
# what `pip install .` of porttool needs: the package, its rules, and the files pyproject names
SNAPSHOT = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "porttool", "rules")


def _run(args: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(args, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check and out.returncode != 0:
        raise AssertionError(f"{args} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return out


@pytest.fixture
def hook_env(tmp_path):
    base = tmp_path
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(base / "cache"), "PRE_COMMIT_COLOR": "never"}
    env.pop("PRE_COMMIT", None)
    env.pop("VIRTUAL_ENV", None)
    # the hook repository: a committed snapshot of this working tree (the lead commits at the end)
    hooks = base / "porttool-repo"
    hooks.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SNAPSHOT:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, hooks / name, ignore=ignore)
        else:
            shutil.copy2(src, hooks / name)
    _run(["git", "init", "-q", "-b", "main"], hooks, env)
    _run(["git", "add", "-A"], hooks, env)
    _run(["git", "commit", "-q", "-m", "snapshot"], hooks, env)
    rev = _run(["git", "rev-parse", "HEAD"], hooks, env).stdout.strip()
    return base, hooks, rev, env


def _project(hook_env, name: str, hook_ids: list[str]) -> tuple[Path, dict[str, str]]:
    base, hooks, rev, env = hook_env
    project = base / name
    project.mkdir()
    _run(["git", "init", "-q", "-b", "main"], project, env)
    listed = "\n".join(f"      - id: {h}" for h in hook_ids)
    (project / ".pre-commit-config.yaml").write_text(f"repos:\n  - repo: {hooks}\n    rev: {rev}\n    hooks:\n{listed}\n")
    (project / "README.md").write_text("# demo\n")
    _run(["git", "add", "-A"], project, env)
    _run(["git", "commit", "-q", "-m", "init"], project, env)  # no hooks installed yet
    _run([sys.executable, "-m", "pre_commit", "install"], project, env)
    return project, env


def _commit(project: Path, env: dict[str, str], *files: str) -> subprocess.CompletedProcess[str]:
    """`git add` + `git commit` (which runs the installed hooks); stdout holds all output."""
    _run(["git", "add", *files], project, env)
    return subprocess.run(["git", "commit", "-m", f"add {' '.join(files)}"], check=False, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)


def test_hooks_under_real_precommit(hook_env):
    # one test, so that the hook environment is built once even when xdist spreads tests over workers
    _scan_hook(hook_env)
    _rewrite_hook_fixes_then_the_second_commit_passes(hook_env)


def _scan_hook(hook_env):
    project, env = _project(hook_env, "scan-only", ["porttool-scan"])

    # a clean Python file passes (this first commit also builds the hook environment)
    (project / "clean.py").write_text("import torch\n\ndevice = torch.accelerator.current_accelerator()\nprint(torch.ones(2, device=device))\n")
    out = _commit(project, env, "clean.py")
    assert out.returncode == 0, out.stdout
    assert "porttool scan" in out.stdout and "Passed" in out.stdout

    # the hook environment has porttool and no torch
    envs = [p for p in (Path(env["PRE_COMMIT_HOME"])).glob("repo*/py_env-*") if p.is_dir()]
    assert envs, "pre-commit built no Python environment"
    python = next(envs[0].glob("bin/python"))
    probe = _run([str(python), "-c", "import importlib.util as u; print(bool(u.find_spec('porttool')), bool(u.find_spec('torch')))"], project, env)
    assert probe.stdout.split() == ["True", "False"]

    # a staged CUDA file fails, naming the file and the line
    (project / "train.py").write_text("import torch\n\nmodel = torch.nn.Linear(2, 2).cuda()\n")
    out = _commit(project, env, "train.py")
    assert out.returncode != 0
    assert "porttool scan" in out.stdout and "Failed" in out.stdout
    assert "train.py:3:" in out.stdout and "PT001" in out.stdout
    assert "train.py" not in _run(["git", "log", "--name-only", "--format="], project, env).stdout

    # suppressed on the line: passes
    (project / "train.py").write_text("import torch\n\nmodel = torch.nn.Linear(2, 2).cuda()  # porttool: ignore[PT001] -- CUDA-only tool\n")
    out = _commit(project, env, "train.py")
    assert out.returncode == 0, out.stdout

    # a staged dependency manifest with a CUDA-only package fails, naming file and line
    (project / "requirements.txt").write_text("numpy\nflash-attn==2.5.8\n")
    out = _commit(project, env, "requirements.txt")
    assert out.returncode != 0 and "requirements.txt:2:1: PT750" in out.stdout, out.stdout
    (project / "requirements.txt").write_text("numpy\n")
    assert _commit(project, env, "requirements.txt").returncode == 0

    # a commit staging no Python file passes (the hook is skipped, nothing crashes)
    (project / "notes.txt").write_text("uses cuda\n")
    out = _commit(project, env, "notes.txt")
    assert out.returncode == 0, out.stdout
    assert "no files to check" in out.stdout

    # with a baseline in [tool.porttool], recorded findings pass and only new ones fail
    (project / "legacy.py").write_text("import torch\ntorch.cuda.synchronize()\n")
    (project / "pyproject.toml").write_text('[tool.porttool]\nbaseline = ".porttool-baseline.json"\n')
    porttool = next(envs[0].glob("bin/porttool"))
    _run([str(porttool), "scan", "legacy.py", "--write-baseline", ".porttool-baseline.json"], project, env)
    out = _commit(project, env, "legacy.py", "pyproject.toml", ".porttool-baseline.json")
    assert out.returncode == 0, out.stdout
    (project / "legacy.py").write_text("import torch\n\n\ntorch.cuda.synchronize()\ntorch.cuda.empty_cache()\n")
    out = _commit(project, env, "legacy.py")
    assert out.returncode != 0
    assert "legacy.py:5:" in out.stdout and "legacy.py:4:" not in out.stdout


def _rewrite_hook_fixes_then_the_second_commit_passes(hook_env):
    project, env = _project(hook_env, "rewrite", ["porttool-rewrite", "porttool-scan"])
    original = "import torch\n\nmodel = torch.nn.Linear(2, 2).cuda()\nx = torch.randn(3, 2, device='cuda')\nprint(model(x))\n"
    (project / "train.py").write_text(original)
    out = _commit(project, env, "train.py")
    assert out.returncode != 0
    assert "porttool rewrite" in out.stdout and "Failed" in out.stdout
    assert "files were modified by this hook" in out.stdout
    ported = (project / "train.py").read_text()
    assert ".cuda()" not in ported and "cuda" not in ported and ("'neuron'" in ported or '"neuron"' in ported)
    # nothing was committed; re-staging the port commits cleanly
    assert "train.py" not in _run(["git", "log", "--name-only", "--format="], project, env).stdout
    out = _commit(project, env, "train.py")
    assert out.returncode == 0, out.stdout
    assert (project / "train.py").read_text() == ported
