"""Reading files (encodings, BOMs, bad input) and walking trees (.gitignore, excludes, links)."""

from __future__ import annotations

import os

from porttool.scan.discovery import discover
from porttool.model import Diagnostic
from porttool.scan.sources import SourceFile, read_source


def test_bom_and_crlf_are_recorded(tmp_path):
    p = tmp_path / "a.py"
    p.write_bytes(b"\xef\xbb\xbfimport torch\r\nx = 1\r\n")
    src = read_source(p, "a.py")
    assert isinstance(src, SourceFile) and src.bom and src.newline == "\r\n"
    assert src.encode(src.text) == p.read_bytes()


def test_latin1_with_cookie_round_trips(tmp_path):
    p = tmp_path / "a.py"
    data = "# -*- coding: latin-1 -*-\nname = 'café'\n".encode("latin-1")
    p.write_bytes(data)
    src = read_source(p, "a.py")
    assert isinstance(src, SourceFile) and src.encoding in ("iso-8859-1", "latin-1")
    assert src.encode(src.text) == data


def test_bad_inputs_become_diagnostics(tmp_path):
    (tmp_path / "nul.py").write_bytes(b"x = 1\x00\n")
    (tmp_path / "bad.py").write_bytes(b"x = '\xff\xfe'\n")
    (tmp_path / "dir.py").mkdir()
    codes = {}
    for name in ("nul.py", "bad.py", "dir.py", "missing.py"):
        result = read_source(tmp_path / name, name)
        assert isinstance(result, Diagnostic), name
        codes[name] = result.code
    assert codes == {"nul.py": "PT904", "bad.py": "PT903", "dir.py": "PT901", "missing.py": "PT901"}


def test_discovery_honours_gitignore_and_default_excludes(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("generated/\n*.skip.py\n")
    for rel in ["a.py", "pkg/b.py", "generated/c.py", "x.skip.py", ".venv/lib/d.py", "build/e.py", "nb.ipynb", "notes.txt"]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
    found = sorted(c.path.relative_to(tmp_path).as_posix() for c in discover([tmp_path]))
    assert found == ["a.py", "nb.ipynb", "pkg/b.py"]


def test_explicit_files_are_always_taken(tmp_path):
    (tmp_path / ".gitignore").write_text("*.py\n")
    p = tmp_path / "a.py"
    p.write_text("x = 1\n")
    assert [c.path for c in discover([p])] == [p]


def test_symlink_loops_and_escapes_are_skipped(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.py").write_text("x = 1\n")
    outside = tmp_path / "outside.py"
    outside.write_text("x = 2\n")
    os.symlink(outside, root / "escape.py")
    os.symlink(root, root / "loop")
    os.symlink(root / "a.py", root / "inside.py")
    found = sorted(c.path.name for c in discover([root]))
    assert found == ["a.py", "inside.py"]
