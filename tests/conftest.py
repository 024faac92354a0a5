from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption(
        "--update-fixtures",
        action="store_true",
        default=False,
        help="Rewrite the expected outputs of fixture tests (tests/fixtures/...) from porttool's current output; review with git diff.",
    )


@pytest.fixture
def update_fixtures(request) -> bool:
    return bool(request.config.getoption("--update-fixtures"))


@pytest.fixture(scope="session")
def registry():
    from porttool.ruleset.registry import load_registry

    return load_registry()


@pytest.fixture
def run_cli(monkeypatch):
    """Invoke the CLI in-process; returns (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from porttool.cli import app

    def run(*args: str, cwd: Path | None = None, input: str | None = None):
        if cwd is not None:
            monkeypatch.chdir(cwd)
        result = CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run


@pytest.fixture
def porttool_cmd():
    """The command line of a real porttool process (for subprocess tests)."""
    return [sys.executable, "-m", "porttool"]


def write(path: Path, text: str, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, **kw)
    return path


@pytest.fixture(autouse=True)
def _private_scan_cache(tmp_path_factory, monkeypatch):
    """Every test scans with the result cache on, in a directory of its own: the suite exercises
    the cache and never reads or writes the user's (subprocesses inherit the variables)."""
    monkeypatch.setenv("PORTTOOL_CACHE_DIR", str(tmp_path_factory.mktemp("porttool-cache")))
    monkeypatch.delenv("PORTTOOL_NO_CACHE", raising=False)
