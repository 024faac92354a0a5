"""What a manifest's parser returns: entries with exact positions, the comments, the includes."""

from __future__ import annotations

from dataclasses import dataclass

from porttool.model import Span

PACKAGE, INDEX, IMAGE, CHANNEL, ENV = "package", "index", "image", "channel", "env"


@dataclass(frozen=True)
class Entry:
    kind: str  # PACKAGE, INDEX, IMAGE, CHANNEL or ENV
    name: str  # the package as written, the URL, the image reference, the channel, the variable
    span: Span  # what a finding points at: the requirement (name to version), the URL, the image...
    version: str = ""  # a package's version part as written: "==2.1.0+cu118", "=11.8", "@ https://..."
    installer: str = "pip"  # "pip" or "conda" (which resolver reads the entry)


@dataclass(frozen=True)
class Manifest:
    entries: tuple[Entry, ...] = ()
    comments: tuple[tuple[int, str], ...] = ()  # (line, comment text from its `#`), for suppressions
    includes: tuple[str, ...] = ()  # requirements files this one names with -r / -c (as written)
    problem: str = ""  # why the file could not be read as its format (a TOML syntax error): a PT909 diagnostic


