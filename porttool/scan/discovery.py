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
    kind: str | None = None  # a manifest format its name does not say: a file another requirements file includes (-r)


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
    manifests: bool = False,
) -> Iterator[Candidate]:
    """Yield the files to scan, each once, in a stable order. With `manifests`, dependency
    manifests found by name (requirements files, pyproject.toml, setup.cfg, environment.yml,
    Dockerfiles: `manifests.manifest_kind`) too, and the requirements files they include (-r/-c)."""
    suffixes = tuple(PYTHON_SUFFIXES) + tuple(extra_suffixes)
    exclude_spec: pathspec.PathSpec | None = None
    # Keys are strings (what `Path.absolute()` gives, as text): at 100k files a set of absolute
    # `Path` objects alone takes ~45 MB, strings a fifth of that.
    cwd = os.getcwd()
    seen: set[str] = set()
    requirements: list[Path] = []  # manifests that may include others
    for given in paths:
        if given.is_dir():
            if exclude_spec is None:
                exclude_spec = _spec([*DEFAULT_EXCLUDES, *excludes])
            for path in _walk(given, suffixes, exclude_spec, respect_gitignore, manifests):
                key = os.path.join(cwd, os.fspath(path))
                if key not in seen:
                    seen.add(key)
                    if manifests and _is_requirements(path):
                        requirements.append(path)
                    yield Candidate(path, explicit=False)
        else:
            key = os.path.join(cwd, os.fspath(given))
            if key not in seen:
                seen.add(key)
                if manifests and _is_requirements(given):
                    requirements.append(given)
                yield Candidate(given, explicit=True)
    if requirements:
        yield from _included(requirements, paths, seen, cwd)


def _is_requirements(path: Path) -> bool:
    from porttool.scan.manifests import REQUIREMENTS, manifest_kind

    return manifest_kind(path.name, path.parent.name) == REQUIREMENTS


def _included(found: list[Path], roots: Sequence[Path], seen: set[str], cwd: str) -> Iterator[Candidate]:
    """The files the requirements files in `found` include with -r/-c (pip resolves them from
    the including file's folder), and theirs in turn: each once, only existing files inside the
    working directory or a folder being scanned (reports never name a path outside them). One
    whose name does not say it is a requirements file is marked as one."""
    from porttool.scan.manifests import REQUIREMENTS, manifest_kind
    from porttool.scan.manifests.requirements import included_files
    from porttool.scan.sources import MAX_BYTES

    allowed = [os.path.realpath(cwd)] + [os.path.realpath(r) for r in roots if r.is_dir()]
    queue = list(found)
    while queue:
        path = queue.pop(0)
        try:
            if path.stat().st_size > MAX_BYTES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for name in included_files(text):
            if "://" in name:
                continue  # pip can read a requirements file from a URL; porttool does not fetch
            target = path.parent / name
            real = os.path.realpath(target)  # (a link is followed only to a file inside)
            if not any(real == a or real.startswith(a.rstrip(os.sep) + os.sep) for a in allowed) or not os.path.isfile(real):
                continue
            target = Path(os.path.normpath(target))
            key = os.path.join(cwd, os.fspath(target))
            if key in seen:
                continue
            seen.add(key)
            queue.append(target)
            named = manifest_kind(target.name, target.parent.name) == REQUIREMENTS
            yield Candidate(target, explicit=False, kind=None if named else REQUIREMENTS)


def _walk(root: Path, suffixes: tuple[str, ...], exclude_spec: pathspec.PathSpec, respect_gitignore: bool, manifests: bool = False) -> Iterator[Path]:
    """The files under `root` to scan. Paths are handled as strings (pathlib per file was most of a
    warm re-scan of 100k files); gitignore and exclude patterns see POSIX paths relative to their
    base, folders with a trailing "/"."""
    real_root = root.resolve()
    root_text = os.fspath(root)
    if manifests:
        from porttool.scan.manifests import manifest_kind
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
        folder = os.path.basename(dirpath) if manifests else ""
        for name in sorted(filenames):
            if not name.endswith(suffixes) and not (manifests and manifest_kind(name, folder)):
                continue
            if ignored(name, False):
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


def _manifests_wanted(registry: Registry) -> bool:
    return any(r.match["kind"] == "manifest" for r in registry)


def collect_candidates(paths: Sequence[Path], excludes: Sequence[str], registry: Registry) -> list[Candidate]:
    file_suffixes = sorted({g.lstrip("*") for r in registry for g in r.match.get("globs", ()) if r.match["kind"] == "file"})
    return list(discover(paths, excludes=excludes, extra_suffixes=file_suffixes, manifests=_manifests_wanted(registry)))


class CandidateList(Sequence[Candidate]):
    """Candidates held as path strings: a few dozen bytes each where a `Candidate` with its `Path`
    takes a few hundred, which at 100k files is most of a scan's memory. Items are made on access."""

    __slots__ = ("_explicit", "_paths", "kinds")

    def __init__(self, paths: list[str], explicit: bytes, kinds: dict[str, str] | None = None) -> None:
        self._paths = paths
        self._explicit = explicit
        self.kinds = kinds or {}  # path -> manifest kind, for the few files whose name does not say it

    def __len__(self) -> int:
        return len(self._paths)

    def __getitem__(self, index):  # type: ignore[no-untyped-def,override]
        if isinstance(index, slice):
            return CandidateList(self._paths[index], self._explicit[index], self.kinds)
        path = self._paths[index]
        return Candidate(Path(path), bool(self._explicit[index]), self.kinds.get(path))

    def __iter__(self) -> Iterator[Candidate]:
        kinds = self.kinds
        for path, explicit in zip(self._paths, self._explicit):
            yield Candidate(Path(path), bool(explicit), kinds.get(path) if kinds else None)

    @property
    def names(self) -> list[str]:
        """The paths as strings (no `Candidate` made)."""
        return self._paths

    def pick(self, indices: Iterable[int]) -> CandidateList:
        """The candidates at these indices, still compact."""
        chosen = list(indices)
        return CandidateList([self._paths[i] for i in chosen], bytes(self._explicit[i] for i in chosen), self.kinds)


def ordered_candidates(
    paths: Sequence[Path], excludes: Sequence[str], registry: Registry, root: str, only: set[Path] | None = None
) -> CandidateList:
    """`collect_candidates`, sorted by displayed path (the order a streamed report needs: reports
    sort findings by path as a string, which is not the walk's order) and held compactly.
    `only` keeps just those files (resolved paths), as `--changed-since` asks."""
    file_suffixes = sorted({g.lstrip("*") for r in registry for g in r.match.get("globs", ()) if r.match["kind"] == "file"})
    names: list[str] = []
    explicit: set[str] = set()  # files named on the command line (a handful)
    kinds: dict[str, str] = {}
    for candidate in discover(paths, excludes=excludes, extra_suffixes=file_suffixes, manifests=_manifests_wanted(registry)):
        if only is not None and candidate.path.resolve() not in only:
            continue
        name = os.fspath(candidate.path)
        names.append(name)
        if candidate.explicit:
            explicit.add(name)
        if candidate.kind is not None:
            kinds[name] = candidate.kind
    names.sort(key=lambda name: display_path(name, root))
    return CandidateList(names, bytes(name in explicit for name in names) if explicit else bytes(len(names)), kinds)
