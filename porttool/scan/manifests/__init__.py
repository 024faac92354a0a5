"""Dependency manifests: which files are ones (by name), and their text → entries
(`entries.Entry`) with exact positions (a package, an index URL, a base image, a conda channel,
an environment variable) and `#` comments (for suppressions).

One module per format: `requirements` (pip requirements and constraints files, and the one
requirement parser every format uses), `pyproject` (over `toml_strings`), `setup_py` (`ast`;
never imported or run), `setup_cfg`, `conda` (environment.yml), `dockerfile`. The rules that
match entries are `match.kind = "manifest"` (porttool.scan.manifest_matcher).

Recognising a manifest by its name costs nothing (this module defines no classes: a scan of
Python files pays for none of the parsers); the entries are in `entries`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from porttool.scan.manifests.entries import Manifest

REQUIREMENTS, PYPROJECT, SETUP_PY, SETUP_CFG, CONDA, DOCKERFILE = "requirements", "pyproject", "setup-py", "setup-cfg", "conda", "dockerfile"
REQUIREMENTS_FOLDERS = ("requirements", "requirements.d", "reqs", "requirement")


def manifest_kind(name: str, folder: str = "") -> str | None:
    """The manifest format of a file called `name` in a folder called `folder`, or None.

    requirements: `*requirements*.txt`/`.in`, `*constraints*.txt`, any `.txt`/`.in` in a
    `requirements/` (or `requirements.d/`, `reqs/`) folder; `pyproject.toml`; `setup.py`;
    `setup.cfg`; conda: `environment*.yml`, `*environment.yml`, `conda*.yml`, `*-env.yml`,
    `env.yml` (and `.yaml`); Dockerfiles: `Dockerfile`, `Dockerfile.*`, `*.Dockerfile`,
    `Containerfile` (any case).
    """
    lower = name.lower()
    if lower.endswith((".txt", ".in")):
        stem = lower.rsplit(".", 1)[0]
        if "requirements" in stem or "constraints" in stem or folder.lower() in REQUIREMENTS_FOLDERS:
            return REQUIREMENTS
        return None
    if lower == "pyproject.toml":
        return PYPROJECT
    if lower == "setup.py":
        return SETUP_PY
    if lower == "setup.cfg":
        return SETUP_CFG
    if lower.endswith((".yml", ".yaml")):
        stem = lower.rsplit(".", 1)[0]
        if stem.startswith(("environment", "conda")) or stem.endswith(("environment", "-env", "_env")) or stem == "env":
            return CONDA
        return None
    if lower in ("dockerfile", "containerfile") or lower.startswith(("dockerfile.", "containerfile.")) or lower.endswith((".dockerfile", ".containerfile")):
        return DOCKERFILE
    return None


def parse(kind: str, text: str) -> Manifest:
    """Read `text` as a manifest of `kind` (never raises on odd input: a problem is a value)."""
    if kind == REQUIREMENTS:
        from porttool.scan.manifests.requirements import parse_requirements_file

        return parse_requirements_file(text)
    if kind == PYPROJECT:
        from porttool.scan.manifests.pyproject import parse_pyproject

        return parse_pyproject(text)
    if kind == SETUP_PY:
        from porttool.scan.manifests.setup_py import parse_setup_py

        return parse_setup_py(text)
    if kind == SETUP_CFG:
        from porttool.scan.manifests.setup_cfg import parse_setup_cfg

        return parse_setup_cfg(text)
    if kind == CONDA:
        from porttool.scan.manifests.conda import parse_environment

        return parse_environment(text)
    if kind == DOCKERFILE:
        from porttool.scan.manifests.dockerfile import parse_dockerfile

        return parse_dockerfile(text)
    raise ValueError(f"unknown manifest kind {kind!r}")
