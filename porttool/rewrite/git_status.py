"""Which files have uncommitted git changes (`rewrite --apply` refuses to overwrite them)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path


def dirty_files(paths: Iterable[Path]) -> list[str]:
    """Files among `paths` with uncommitted changes in their git work tree (empty outside git)."""
    paths = list(paths)
    if not paths:
        return []
    by_repo: dict[Path, list[Path]] = {}
    for path in paths:
        top = _git_toplevel(path.absolute().parent)
        if top is not None:
            by_repo.setdefault(top, []).append(path.absolute())
    dirty: list[str] = []
    for top, files in by_repo.items():
        try:
            out = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no", "--", *[str(f.relative_to(top)) for f in files]],
                cwd=top,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError, ValueError):
            continue
        dirty += [line[3:] for line in out.splitlines() if line.strip()]
    return sorted(dirty)


def _git_toplevel(directory: Path) -> Path | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=directory, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None
