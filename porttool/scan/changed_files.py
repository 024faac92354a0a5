"""`--changed-since REF`: the files git says changed since a ref, plus untracked ones.

The result only narrows the usual discovery (gitignore, excludes, suffixes): a changed file is
scanned when discovery would have scanned it anyway.
"""

from __future__ import annotations

from pathlib import Path


class ChangedFilesError(Exception):
    """Not a git work tree, git missing, or a bad ref; the message says which."""


def _git(args: list[str], cwd: Path) -> str:
    import subprocess  # (only with --changed-since: every scan imports this module)

    try:
        out = subprocess.run(["git", *args], check=False, cwd=cwd, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise ChangedFilesError("--changed-since needs git, which is not installed") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise ChangedFilesError(f"git {' '.join(args)} failed: {exc}") from exc
    if out.returncode != 0:
        raise ChangedFilesError(out.stderr.strip() or f"git {' '.join(args)} exited {out.returncode}")
    return out.stdout


def changed_files(ref: str, where: Path) -> set[Path]:
    """Absolute paths of files changed since `ref` (committed, staged or not) and untracked files,
    in the git work tree containing `where`."""
    directory = where if where.is_dir() else where.parent
    directory = directory.absolute()
    try:
        top = Path(_git(["rev-parse", "--show-toplevel"], directory).strip())
    except ChangedFilesError:
        raise ChangedFilesError(f"--changed-since needs a git work tree; {directory} is not in one") from None
    try:
        _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], top)
    except ChangedFilesError:
        raise ChangedFilesError(f"--changed-since: {ref!r} is not a commit in {top}") from None
    diff = _git(["-c", "core.quotepath=off", "diff", "--name-only", "-z", ref, "--"], top)
    untracked = _git(["-c", "core.quotepath=off", "ls-files", "--others", "--exclude-standard", "-z"], top)
    names = [n for n in (diff + untracked).split("\0") if n]
    return {(top / name).resolve() for name in names}
