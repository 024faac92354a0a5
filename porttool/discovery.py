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
    """The files under `root` to scan. Paths are handled as strings (pathlib per file was most of a
    warm re-scan of 100k files); gitignore and exclude patterns see POSIX paths relative to their
    base, folders with a trailing "/"."""
    real_root = root.resolve()
    root_text = os.fspath(root)
    # gitignore specs, each with the absolute path (as text) of the folder it applies below
    ignores: list[tuple[str, pathspec.PathSpec]] = []
    if respect_gitignore:
        for parent in [root, *root.absolute().parents]:
            lines = _read_gitignore(parent)
            if lines:
                ignores.append((os.fspath(parent.absolute()), _spec(lines)))
            if (parent / ".git").exists():
                break

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        absolute = os.fspath(Path(dirpath).absolute())  # (normalised as pathlib does: no "./")
        if respect_gitignore and dirpath != root_text:
            lines = _read_gitignore(Path(dirpath))
            if lines:
                ignores.append((absolute, _spec(lines)))
        from_root = _posix_below(dirpath, root_text)
        # (spec, this folder's path relative to the spec's folder) for each gitignore that applies here
        applicable = [(spec, below) for base, spec in ignores if (below := _posix_below(absolute, base)) is not None]

        def ignored(name: str, is_dir: bool) -> bool:
            slash = "/" if is_dir else ""
            if exclude_spec.match_file(f"{from_root}{name}{slash}") or exclude_spec.match_file(name + slash):
                return True
            return any(spec.match_file(f"{below}{name}{slash}") for spec, below in applicable)

        kept = []
        for d in sorted(dirnames):
            if os.path.islink(os.path.join(dirpath, d)) or ignored(d, True):
                continue
            kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            if not name.endswith(suffixes) or ignored(name, False):
                continue
            text = os.path.join(dirpath, name)
            path = Path(text)
            if os.path.islink(text):
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    continue  # dangling or looping link: nothing to read
                if real_root not in target.parents:
                    continue  # points outside the scanned tree
                if not target.is_file():
                    continue
            elif not os.path.isfile(text):
                continue
            yield path


def _posix_below(path: str, base: str) -> str | None:
    """`path` relative to `base` as a POSIX prefix ("" for `base` itself, else "a/b/"), or None
    when `path` is not below `base` (compared as text, as `PurePath.relative_to` does)."""
    if path == base:
        return ""
    prefix = base if base.endswith(os.sep) else base + os.sep
    if not path.startswith(prefix):
        return None
    rest = path[len(prefix):]
    return (rest.replace(os.sep, "/") + "/") if rest else ""
