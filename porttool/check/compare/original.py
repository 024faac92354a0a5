"""Where the original program of ``porttool check --compare`` runs, and what data it sees.

``--original REF`` (default ``HEAD``): the commit is checked out into a temporary git worktree
(``git worktree add --detach``; removed afterwards), and the command runs in the same directory
relative to the repository root as in the working tree.  ``--original DIR``: a directory holding the
original project (its root stands for the repository root); the command runs in it as it is, and
what it writes lands there.

The data rule (REF): every file of the working tree that git does not track -- untracked or
ignored: datasets, tokenizers, prepared ``.bin`` files, checkpoints -- is made visible to the
original at the same relative path, as it was before either run, unless REF tracks that path
(REF's version wins).  Files up to 8 MiB are copied (64 MiB in all), larger ones are symlinked; a
directory of more than 5000 untracked files is linked whole; virtual environments
(``pyvenv.cfg``) and ``node_modules`` are linked whole; caches (``__pycache__``, ``.pytest_cache``,
...) are skipped.  So both runs read the same inputs; what the original *creates* stays in its
temporary tree and is deleted with it.  A linked file the original *modifies* is the user's file:
porttool checks every linked file's size and modification time after the original's runs and
reports a change as a problem (the port would have read the original's output).

Command paths: an absolute path inside the working tree (in the command or in ``PYTHONPATH``)
is mapped to the same path in the original's tree, so ``python /repo/train.py`` runs the
original's ``train.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

COPY_LIMIT = 8 * 1024 * 1024
COPY_TOTAL = 64 * 1024 * 1024
LINK_WHOLE_DIR = 5000
SKIP_DIRS = frozenset({".git", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache",
                       ".tox", ".nox", ".ipynb_checkpoints", ".hypothesis"})


class OriginalError(Exception):
    """--original cannot be used (names the ref or directory and why)."""


@dataclass
class OriginalTree:
    root: Path  # the tree the original runs in
    cwd: Path  # the command's directory in it
    port_root: Path  # the working tree (the port)
    description: str
    same_source: bool = False
    copied: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    linked_whole: list[str] = field(default_factory=list)
    watched: dict[str, tuple[int, int]] = field(default_factory=dict)

    def data_lines(self) -> list[str]:
        lines = [f"the original is {self.description}"]
        if self.copied or self.linked or self.linked_whole:
            lines.append(f"untracked files of the working tree visible to it: {len(self.copied)} "
                         f"copied, {len(self.linked)} symlinked"
                         + (f", linked whole: {', '.join(self.linked_whole[:5])}" if self.linked_whole else ""))
        return lines

    def modified_links(self) -> list[str]:
        """Linked files of the working tree whose size or modification time changed."""
        changed = []
        for rel, (size, mtime) in sorted(self.watched.items()):
            try:
                st = (self.port_root / rel).stat()
            except OSError:
                changed.append(rel)
                continue
            if (st.st_size, st.st_mtime_ns) != (size, mtime):
                changed.append(rel)
        return changed


def _git(args: Sequence[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OriginalError(f"git {' '.join(args)}: {exc}") from exc
    if check and done.returncode != 0:
        raise OriginalError(f"git {' '.join(args)} failed in {cwd}: "
                            f"{(done.stderr or done.stdout).strip().splitlines()[-1:] or ['?']}")
    return done


def project_root(cwd: Path) -> tuple[Path, bool]:
    """The git repository root of ``cwd`` (and True), or ``cwd`` itself (and False)."""
    try:
        done = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True,
                              text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return cwd.resolve(), False
    if done.returncode != 0 or not done.stdout.strip():
        return cwd.resolve(), False
    return Path(done.stdout.strip()).resolve(), True


def map_path(value: str, port_root: Path, root: Path) -> str:
    """An absolute path inside the working tree -> the same path in the original's tree."""
    if not os.path.isabs(value):
        return value
    for base in {str(port_root), os.path.realpath(port_root)}:
        if value == base or value.startswith(base.rstrip(os.sep) + os.sep):
            return str(root) + value[len(base.rstrip(os.sep)):]
    return value


def map_command(argv: Sequence[str], tree: OriginalTree) -> list[str]:
    out = []
    for arg in argv:
        if "=" in arg and arg.startswith("-"):
            key, _, value = arg.partition("=")
            out.append(f"{key}={map_path(value, tree.port_root, tree.root)}")
        else:
            out.append(map_path(arg, tree.port_root, tree.root))
    return out


def map_environment(env: Mapping[str, str], tree: OriginalTree) -> dict[str, str]:
    mapped = dict(env)
    if mapped.get("PYTHONPATH"):
        mapped["PYTHONPATH"] = os.pathsep.join(map_path(p, tree.port_root, tree.root)
                                               for p in mapped["PYTHONPATH"].split(os.pathsep))
    return mapped


def _is_env_dir(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file() or path.name == "node_modules"


class _Linker:
    def __init__(self, tree: OriginalTree) -> None:
        self.tree = tree
        self.copied_bytes = 0

    def file(self, rel: str) -> None:
        src, dst = self.tree.port_root / rel, self.tree.root / rel
        if dst.exists() or dst.is_symlink() or rel.endswith(".pyc"):
            return
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            st = src.stat()
        except OSError:
            return
        if src.is_symlink() or not src.is_file():
            os.symlink(os.readlink(src) if src.is_symlink() else src, dst)
            return
        if st.st_size <= COPY_LIMIT and self.copied_bytes + st.st_size <= COPY_TOTAL:
            shutil.copy2(src, dst)
            self.copied_bytes += st.st_size
            self.tree.copied.append(rel)
        else:
            os.symlink(src, dst)
            self.tree.linked.append(rel)
            self.tree.watched[rel] = (st.st_size, st.st_mtime_ns)

    def directory(self, rel: str) -> None:
        src, dst = self.tree.port_root / rel, self.tree.root / rel
        if src.name in SKIP_DIRS or dst.exists() and not dst.is_dir():
            return
        if _is_env_dir(src) or _count_files(src, LINK_WHOLE_DIR) > LINK_WHOLE_DIR:
            if not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(src, dst, target_is_directory=True)
                self.tree.linked_whole.append(rel)
            return
        for dirpath, dirnames, filenames in os.walk(src):
            here = Path(dirpath)
            sub = here.relative_to(self.tree.port_root)
            keep = []
            for d in dirnames:
                if d in SKIP_DIRS:
                    continue
                if _is_env_dir(here / d):
                    self.directory(str(sub / d))
                    continue
                keep.append(d)
            dirnames[:] = keep
            (self.tree.root / sub).mkdir(parents=True, exist_ok=True)
            for name in filenames:
                self.file(str(sub / name))


def _count_files(path: Path, limit: int) -> int:
    count = 0
    for _, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        count += len(filenames)
        if count > limit:
            break
    return count


def _link_untracked(tree: OriginalTree) -> None:
    done = _git(["ls-files", "--others", "--directory", "--no-empty-directory", "-z"], tree.port_root)
    linker = _Linker(tree)
    for entry in sorted(e for e in done.stdout.split("\0") if e):
        rel = entry.rstrip("/")
        if any(part in SKIP_DIRS for part in Path(rel).parts):
            continue
        if entry.endswith("/") or (tree.port_root / rel).is_dir() and not (tree.port_root / rel).is_symlink():
            linker.directory(rel)
        else:
            linker.file(rel)


@contextmanager
def original_tree(spec: str | None, cwd: Path) -> Iterator[OriginalTree]:
    """The original's tree for ``--original spec`` (a git ref, default HEAD, or a directory)."""
    cwd = cwd.resolve()
    port_root, is_git = project_root(cwd)
    rel = cwd.relative_to(port_root)
    if spec is not None and Path(spec).expanduser().is_dir():
        root = Path(spec).expanduser().resolve()
        if root == port_root:
            raise OriginalError(f"--original {spec}: that is the working tree itself (the port); "
                                "give the original's directory or a git ref")
        run_in = root / rel
        if not run_in.is_dir():
            raise OriginalError(f"--original {spec}: it has no {rel}/ (the command runs in the "
                                "same directory relative to the project root as in the working tree)")
        yield OriginalTree(root, run_in, port_root, f"the directory {root}")
        return
    ref = spec or "HEAD"
    if not is_git:
        raise OriginalError(f"--original {ref}: {cwd} is not in a git repository; give the "
                            "original's directory with --original DIR")
    done = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], port_root, check=False)
    if done.returncode != 0:
        raise OriginalError(f"--original {ref}: neither a directory nor a commit of {port_root}")
    sha = done.stdout.strip()
    same = _git(["diff", "--quiet", sha, "--", "."], port_root, check=False).returncode == 0
    holder = Path(tempfile.mkdtemp(prefix="porttool-original-"))
    root = holder / port_root.name
    try:
        _git(["worktree", "add", "--detach", "--force", str(root), sha], port_root)
        tree = OriginalTree(root, root / rel, port_root, f"{ref} ({sha[:10]}) in a temporary git "
                            "worktree", same_source=same)
        if not tree.cwd.is_dir():
            raise OriginalError(f"--original {ref}: the commit has no {rel}/ (the command runs in "
                                "the same directory relative to the repository root)")
        _link_untracked(tree)
        yield tree
    finally:
        _git(["worktree", "remove", "--force", str(root)], port_root, check=False)
        shutil.rmtree(holder, ignore_errors=True)
        _git(["worktree", "prune"], port_root, check=False)
