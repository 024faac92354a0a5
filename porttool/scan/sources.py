"""Read a file as porttool sees it: bytes → text with its encoding, BOM and newline style kept.

Reading never fails with an exception: a file that cannot be read or decoded becomes a
`Diagnostic` naming the file and the problem, and the run goes on.
"""

from __future__ import annotations

import codecs
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from porttool.model import Diagnostic

MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SourceFile:
    path: Path
    display: str
    raw: bytes
    text: str  # decoded, BOM stripped, newlines as in the file
    encoding: str
    bom: bool
    newline: str  # the first newline style seen: "\n", "\r\n" or "\r"

    @property
    def is_notebook(self) -> bool:
        return self.path.suffix == ".ipynb"

    def encode(self, text: str) -> bytes:
        """Turn (re)written text back into bytes in the file's own encoding and BOM."""
        data = text.encode(self.encoding)
        return (codecs.BOM_UTF8 + data) if self.bom else data


def _newline_of(text: str) -> str:
    m = re.search(r"\r\n|\r|\n", text)
    return m.group(0) if m else "\n"


def read_source(path: Path, display: str) -> SourceFile | Diagnostic:
    try:
        if path.is_dir():
            return Diagnostic("PT901", display, "is a directory, not a file")
        size = path.stat().st_size
        if size > MAX_BYTES:
            return Diagnostic("PT908", display, f"file is {size / 2**20:.0f} MiB; porttool reads files up to {MAX_BYTES // 2**20} MiB")
        raw = path.read_bytes()
    except FileNotFoundError:
        return Diagnostic("PT901", display, "file disappeared before it could be read")
    except PermissionError:
        return Diagnostic("PT901", display, "permission denied")
    except OSError as exc:
        return Diagnostic("PT901", display, f"cannot read: {exc.strerror or exc}")
    python = path.suffix in (".py", ".pyi")
    if b"\x00" in raw:
        return Diagnostic("PT904", display, "contains NUL bytes; not a Python source file" if python or path.suffix == ".ipynb" else "contains NUL bytes; not a text file")
    if path.suffix == ".ipynb" or path.suffix not in (".py", ".pyi"):
        encoding, bom = "utf-8", raw.startswith(codecs.BOM_UTF8)
    else:
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        except SyntaxError as exc:
            return Diagnostic("PT903", display, f"bad encoding declaration: {exc}")
        bom = encoding == "utf-8-sig"
        if bom:
            encoding = "utf-8"
    body = raw[len(codecs.BOM_UTF8) :] if bom else raw
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        hint = "" if encoding != "utf-8" or not python else " (add a '# -*- coding: ... -*-' line if the file is not UTF-8)"
        return Diagnostic("PT903", display, f"cannot decode as {encoding}: {exc.reason if isinstance(exc, UnicodeDecodeError) else exc}{hint}")
    return SourceFile(path=path, display=display, raw=raw, text=text, encoding=encoding, bom=bom, newline=_newline_of(text))
