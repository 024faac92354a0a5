"""Which files a run looks at: walk directories honouring .gitignore and default excludes.

Files named explicitly are always taken (that is how pre-commit passes them). Symlinked
directories are never followed (no loops); a symlinked file is taken only when it resolves inside
the directory being walked, so reported paths never escape the scanned root.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

DEFAULT_EXCLUDES = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".env",
    "env",
    ".tox",
    ".nox",
    "build",
    "dist",
    "site-packages",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".ipynb_checkpoints",
    ".eggs",
    "*.egg-info",
)
PYTHON_SUFFIXES = (".py", ".pyi", ".ipynb")


@dataclass(frozen=True)
class Candidate:
    path: Path
    explicit: bool  # named on the command line


def _spec(patterns: Sequence[str]) -> pathspec.PathSpec:
    return pathspec.PathSpec.from_lines("gitignore", patterns)


def _read_gitignore(directory: Path) -> list[str]:
    try:
        return (directory / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def discover(
    paths: Sequence[Path],
    *,
    excludes: Sequence[str] = (),
    extra_suffixes: Sequence[str] = (),
    respect_gitignore: bool = True,
) -> Iterator[Candidate]:
    """Yield the files to scan, each once, in a stable order."""
    suffixes = tuple(PYTHON_SUFFIXES) + tuple(extra_suffixes)
    exclude_spec = _spec([*DEFAULT_EXCLUDES, *excludes])
    # Keys are strings (what `Path.absolute()` gives, as text): at 100k files a set of absolute
    # `Path` objects alone takes ~45 MB, strings a fifth of that.
    cwd = os.getcwd()
    seen: set[str] = set()
    for given in paths:
        if given.is_dir():
            for path in _walk(given, suffixes, exclude_spec, respect_gitignore):
                key = os.path.join(cwd, os.fspath(path))
                if key not in seen:
                    seen.add(key)
                    yield Candidate(path, explicit=False)
        else:
            key = os.path.join(cwd, os.fspath(given))
            if key not in seen:
                seen.add(key)
                yield Candidate(given, explicit=True)


def _walk(root: Path, suffixes: tuple[str, ...], exclude_spec: pathspec.PathSpec, respect_gitignore: bool) -> Iterator[Path]:
    real_root = root.resolve()
    # gitignore specs per directory, relative to that directory
    ignores: list[tuple[Path, pathspec.PathSpec]] = []
    if respect_gitignore:
        for parent in [root, *root.absolute().parents]:
            lines = _read_gitignore(parent)
            if lines:
                ignores.append((parent.absolute(), _spec(lines)))
            if (parent / ".git").exists():
                break

    def ignored(path: Path, is_dir: bool) -> bool:
        rel_root = path.relative_to(root).as_posix() + ("/" if is_dir else "")
        if exclude_spec.match_file(rel_root) or exclude_spec.match_file(path.name + ("/" if is_dir else "")):
            return True
        absolute = path.absolute()
        for base, spec in ignores:
            try:
                rel = absolute.relative_to(base).as_posix()
            except ValueError:
                continue
            if spec.match_file(rel + ("/" if is_dir else "")):
                return True
        return False

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        current = Path(dirpath)
        if respect_gitignore and current != root:
            lines = _read_gitignore(current)
            if lines:
                ignores.append((current.absolute(), _spec(lines)))
        kept = []
        for d in sorted(dirnames):
            sub = current / d
            if sub.is_symlink() or ignored(sub, True):
                continue
            kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            if not name.endswith(suffixes):
                continue
            path = current / name
            if ignored(path, False):
                continue
            if path.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    continue  # dangling or looping link: nothing to read
                if real_root not in target.parents:
                    continue  # points outside the scanned tree
                if not target.is_file():
                    continue
            elif not path.is_file():
                continue
            yield path
