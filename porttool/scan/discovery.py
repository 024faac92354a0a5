"""Which files a run looks at: walk directories honouring .gitignore and default excludes.

Files named explicitly are always taken (that is how pre-commit passes them). Symlinked
directories are never followed (no loops); a symlinked file is taken only when it resolves inside
the directory being walked, so reported paths never escape the scanned root.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from porttool.ruleset.registry import Registry

if TYPE_CHECKING:
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
    import pathspec  # only when a folder is walked: a pre-commit run names its files (~8 ms of start-up)

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
    exclude_spec: pathspec.PathSpec | None = None
    # Keys are strings (what `Path.absolute()` gives, as text): at 100k files a set of absolute
    # `Path` objects alone takes ~45 MB, strings a fifth of that.
    cwd = os.getcwd()
    seen: set[str] = set()
    for given in paths:
        if given.is_dir():
            if exclude_spec is None:
                exclude_spec = _spec([*DEFAULT_EXCLUDES, *excludes])
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


def display_path(path: Path | str, root: str) -> str:
    """The path as reported: relative to `root` when below it, else as given (POSIX separators)."""
    name = os.fspath(path)
    if os.sep == "/" and not name.startswith("/") and root == os.getcwd():
        relative = os.path.normpath(name)  # what relpath gives here, without its two abspaths
    else:
        try:
            relative = os.path.relpath(name, root)  # relpath makes both absolute (cheaper than pathlib)
        except ValueError:  # another drive on Windows
            return Path(name).as_posix()
    return Path(name).as_posix() if relative.startswith("..") else relative.replace(os.sep, "/")


def collect_candidates(paths: Sequence[Path], excludes: Sequence[str], registry: Registry) -> list[Candidate]:
    file_suffixes = sorted({g.lstrip("*") for r in registry for g in r.match.get("globs", ()) if r.match["kind"] == "file"})
    return list(discover(paths, excludes=excludes, extra_suffixes=file_suffixes))


class CandidateList(Sequence[Candidate]):
    """Candidates held as path strings: a few dozen bytes each where a `Candidate` with its `Path`
    takes a few hundred, which at 100k files is most of a scan's memory. Items are made on access."""

    __slots__ = ("_explicit", "_paths")

    def __init__(self, paths: list[str], explicit: bytes) -> None:
        self._paths = paths
        self._explicit = explicit

    def __len__(self) -> int:
        return len(self._paths)

    def __getitem__(self, index):  # type: ignore[no-untyped-def,override]
        if isinstance(index, slice):
            return CandidateList(self._paths[index], self._explicit[index])
        return Candidate(Path(self._paths[index]), bool(self._explicit[index]))

    def __iter__(self) -> Iterator[Candidate]:
        for path, explicit in zip(self._paths, self._explicit):
            yield Candidate(Path(path), bool(explicit))

    @property
    def names(self) -> list[str]:
        """The paths as strings (no `Candidate` made)."""
        return self._paths

    def pick(self, indices: Iterable[int]) -> CandidateList:
        """The candidates at these indices, still compact."""
        chosen = list(indices)
        return CandidateList([self._paths[i] for i in chosen], bytes(self._explicit[i] for i in chosen))


def ordered_candidates(
    paths: Sequence[Path], excludes: Sequence[str], registry: Registry, root: str, only: set[Path] | None = None
) -> CandidateList:
    """`collect_candidates`, sorted by displayed path (the order a streamed report needs: reports
    sort findings by path as a string, which is not the walk's order) and held compactly.
    `only` keeps just those files (resolved paths), as `--changed-since` asks."""
    file_suffixes = sorted({g.lstrip("*") for r in registry for g in r.match.get("globs", ()) if r.match["kind"] == "file"})
    names: list[str] = []
    explicit: set[str] = set()  # files named on the command line (a handful)
    for candidate in discover(paths, excludes=excludes, extra_suffixes=file_suffixes):
        if only is not None and candidate.path.resolve() not in only:
            continue
        name = os.fspath(candidate.path)
        names.append(name)
        if candidate.explicit:
            explicit.add(name)
    names.sort(key=lambda name: display_path(name, root))
    return CandidateList(names, bytes(name in explicit for name in names) if explicit else bytes(len(names)))
