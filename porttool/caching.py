"""Where porttool's caches live, whether they are switched off, and the digest of porttool's own
code that keys them (an edited checkout must not reuse old entries). Standard library only."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path


def cache_dir() -> Path:
    explicit = os.environ.get("PORTTOOL_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base and os.path.isabs(base) else Path.home() / ".cache") / "porttool"


def disabled_by_environment() -> bool:
    return os.environ.get("PORTTOOL_NO_CACHE", "").strip().lower() not in ("", "0", "false", "no")


@functools.lru_cache(maxsize=1)
def code_signature() -> str:
    """A digest of porttool's own sources: an edited checkout must not reuse old results."""
    h = hashlib.blake2b(digest_size=16)
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode())
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"?")
    return h.hexdigest()
