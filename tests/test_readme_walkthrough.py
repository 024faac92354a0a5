"""The README's "Port a project in five minutes" walkthrough, run for real.

The commands and the output shown between `<!-- walkthrough:begin -->` and `<!-- walkthrough:end -->`
are read from README.md: every `$ command` is run in order in one shell (from the repository root,
with `/tmp/demo` replaced by a temp dir), and every output line shown under it must appear, in
that order, in what the command printed (`...` stands for lines left out). Editing either side
without the other fails this test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MARK = "@@porttool-walkthrough@@"


def walkthrough_steps(readme: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for each `$ ` line of the console blocks between the markers."""
    match = re.search(r"<!-- walkthrough:begin -->(.*?)<!-- walkthrough:end -->", readme, re.DOTALL)
    assert match, "README.md has no walkthrough markers"
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", match.group(1), re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                assert steps, f"output before the first command in a console block: {line!r}"
                steps[-1][1].append(line.rstrip())
    return steps


def _in_order(expected: list[str], actual: list[str]) -> str | None:
    """None when the non-`...` expected lines appear in `actual` in order; else the first missing line."""
    position = 0
    for line in expected:
        if line == "...":
            continue
        try:
            position = actual.index(line, position) + 1
        except ValueError:
            return line
    return None


def test_in_order_matching():
    assert _in_order(["a", "...", "c"], ["a", "b", "c"]) is None
    assert _in_order(["c", "a"], ["a", "b", "c"]) == "a"
    assert _in_order(["x"], ["a"]) == "x"


# What a new user's clean shell has: no PYTHONUNBUFFERED (stdout is block-buffered in a pipe, so a
# summary written to stderr before stdout is flushed would come first under `2>&1`), no
# PYTHONPATH, nothing else of this test run's environment but where the cache lives.
KEPT = ("HOME", "TMPDIR", "USER", "LOGNAME", "PORTTOOL_CACHE_DIR")


def clean_environment() -> dict[str, str]:
    env = {name: os.environ[name] for name in KEPT if name in os.environ}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin",
        LANG="C.UTF-8",
        COLUMNS="100",
        NO_COLOR="1",
        TERM="dumb",
    )
    return env


def test_the_walkthrough_shell_is_clean(monkeypatch):
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env = clean_environment()
    assert not [name for name in env if name.startswith("PYTHON")]


@pytest.mark.slow
def test_readme_walkthrough_output_is_real(tmp_path):
    steps = walkthrough_steps((REPO / "README.md").read_text(encoding="utf-8"))
    assert [cmd.split()[1] for cmd, _ in steps if cmd.startswith("porttool")] == ["scan", "rewrite", "rewrite", "scan", "check"]
    demo = tmp_path / "demo"
    script = ["set +e"]
    for i, (command, _) in enumerate(steps):
        script += [f"echo '{MARK} {i}'", command.replace("/tmp/demo", str(demo)) + " 2>&1"]
    env = clean_environment()
    out = subprocess.run(["bash", "-c", "\n".join(script)], check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    chunks = out.stdout.replace(str(demo), "/tmp/demo").split(MARK)[1:]
    assert len(chunks) == len(steps), out.stdout[-3000:] + out.stderr[-3000:]
    for (command, expected), chunk in zip(steps, chunks):
        actual = [line.rstrip() for line in chunk.splitlines()[1:]]
        missing = _in_order(expected, actual)
        assert missing is None, f"README walkthrough: `{command}` did not print {missing!r}; it printed:\n" + "\n".join(actual[-60:])
    # the walkthrough really ported the sample
    assert ".cuda()" not in (demo / "train.py").read_text(encoding="utf-8")
