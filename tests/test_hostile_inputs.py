"""Hostile input, one case per test, through the CLI: odd encodings and newlines, broken or binary
files, links, permissions, files that vanish. Each case gets a per-file message naming the file,
the documented exit code and no traceback; no file changes unless it was ported successfully, and
encodings, BOMs and newlines survive a rewrite.

Exit codes (README): a file porttool cannot read, decode or parse is a PT9xx diagnostic that makes
the run exit 1; the run goes on with the other files.
"""

from __future__ import annotations

import codecs
import json
import os
import stat
from pathlib import Path

import pytest

CUDA = "import torch\nx = torch.ones(2).cuda()\n"
PORTED = 'import torch\nx = torch.ones(2).to("neuron")\n'


def _no_traceback(out: str, err: str) -> None:
    assert "Traceback" not in out + err and "Error:" not in err.replace("porttool:", "")


def _scan_json(run_cli, *paths: Path, cwd: Path):
    code, out, err = run_cli("scan", *map(str, paths), "-f", "json", cwd=cwd)
    _no_traceback(out, err)
    return code, json.loads(out)


def _apply(run_cli, *paths: Path, cwd: Path):
    code, out, err = run_cli("rewrite", *map(str, paths), "--apply", "--allow-dirty", cwd=cwd)
    _no_traceback(out, err)
    return code, out, err


def _diagnostics(doc) -> dict[str, str]:
    return {d["path"]: d["code"] for d in doc["diagnostics"]}


def _no_temp_files(root: Path) -> None:
    assert not [p for p in root.rglob("*") if p.name.endswith(".porttool-tmp")]


def _tree(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "proj"
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


# --------------------------------------------------------------------------- unparsable sources
def test_syntax_error_is_a_diagnostic_and_the_file_is_left_alone(tmp_path, run_cli):
    broken = b"import torch\ndef f(:\n    torch.cuda.synchronize()\n"
    root = _tree(tmp_path, {"broken.py": broken, "good.py": CUDA.encode()})
    code, doc = _scan_json(run_cli, root, cwd=root)
    assert code == 1
    (diag,) = doc["diagnostics"]
    assert diag["code"] == "PT902" and diag["path"] == "broken.py" and diag["line"] == 2
    code, _, err = _apply(run_cli, root, cwd=root)
    assert code == 1 and "broken.py" in err and "PT902" in err
    assert (root / "broken.py").read_bytes() == broken
    assert (root / "good.py").read_text() == PORTED  # one bad file never stops the run


def test_python2_code_is_named_as_such(tmp_path, run_cli):
    py2 = b"import torch\nprint 'on', torch.cuda.device_count()\nx = torch.ones(2).cuda()\n"
    root = _tree(tmp_path, {"legacy.py": py2})
    code, doc = _scan_json(run_cli, root, cwd=root)
    assert code == 1
    (diag,) = doc["diagnostics"]
    assert diag["code"] == "PT902" and diag["path"] == "legacy.py" and "Python 2" in diag["message"]
    code, _, err = _apply(run_cli, root, cwd=root)
    assert code == 1 and "legacy.py" in err
    assert (root / "legacy.py").read_bytes() == py2


# --------------------------------------------------------------------------- encodings
def test_latin1_with_coding_cookie_survives_a_rewrite(tmp_path, run_cli):
    text = "# -*- coding: latin-1 -*-\nimport torch\nname = 'café'\nx = torch.ones(2).cuda()\n"
    root = _tree(tmp_path, {"latin.py": text.encode("latin-1")})
    code, _, _ = _apply(run_cli, root, cwd=root)
    assert code == 1  # files changed
    data = (root / "latin.py").read_bytes()
    assert data == text.replace(".cuda()", '.to("neuron")').encode("latin-1")
    assert b"caf\xe9" in data  # still latin-1, not re-encoded as UTF-8


def test_non_utf8_without_cookie_is_an_encoding_diagnostic(tmp_path, run_cli):
    raw = b"import torch\nname = 'caf\xe9'\nx = torch.ones(2).cuda()\n"
    root = _tree(tmp_path, {"nocookie.py": raw})
    code, doc = _scan_json(run_cli, root, cwd=root)
    assert code == 1
    (diag,) = doc["diagnostics"]
    assert diag["code"] == "PT903" and diag["path"] == "nocookie.py" and "coding" in diag["message"]
    code, _, err = _apply(run_cli, root, cwd=root)
    assert code == 1 and "nocookie.py" in err and "PT903" in err
    assert (root / "nocookie.py").read_bytes() == raw


def test_utf8_bom_survives_a_rewrite(tmp_path, run_cli):
    root = _tree(tmp_path, {"bom.py": codecs.BOM_UTF8 + "# héllo\n".encode() + CUDA.encode()})
    code, _, _ = _apply(run_cli, root, cwd=root)
    assert code == 1
    assert (root / "bom.py").read_bytes() == codecs.BOM_UTF8 + "# héllo\n".encode() + PORTED.encode()


# --------------------------------------------------------------------------- newlines and whitespace
def test_crlf_newlines_survive_a_rewrite(tmp_path, run_cli):
    # a fix that adds an import: the new line must use the file's CRLF too
    raw = b"import torch\r\n\r\nx = torch.ones(2).cuda()\r\ntorch.cuda.synchronize()\r\n"
    root = _tree(tmp_path, {"crlf.py": raw})
    code, _, _ = run_cli("rewrite", str(root), "--apply", "--allow-dirty", "--target", "neuron-xla", cwd=root)
    assert code == 1
    data = (root / "crlf.py").read_bytes()
    assert b"torch_xla" in data and b".cuda()" not in data
    assert data.count(b"\n") == data.count(b"\r\n"), data


def test_mixed_newlines_are_kept_line_by_line(tmp_path, run_cli):
    raw = b"import torch\r\ny = 1\nx = torch.ones(2).cuda()\r\nz = x.cuda()\n"
    root = _tree(tmp_path, {"mixed.py": raw})
    code, _, _ = _apply(run_cli, root, cwd=root)
    assert code == 1
    assert (root / "mixed.py").read_bytes() == raw.replace(b".cuda()", b'.to("neuron")')


def test_tab_indentation_survives_a_rewrite(tmp_path, run_cli):
    raw = b"import torch\n\ndef f(m):\n\tif m:\n\t\treturn m.cuda()  # \ttab in a comment\n\treturn None\n"
    root = _tree(tmp_path, {"tabs.py": raw})
    code, _, _ = _apply(run_cli, root, cwd=root)
    assert code == 1
    assert (root / "tabs.py").read_bytes() == raw.replace(b".cuda()", b'.to("neuron")')


# --------------------------------------------------------------------------- not Python text
def test_nul_bytes_are_a_diagnostic_and_the_file_is_left_alone(tmp_path, run_cli):
    raw = b"import torch\x00\nx = torch.ones(2).cuda()\n"
    root = _tree(tmp_path, {"binary.py": raw})
    code, doc = _scan_json(run_cli, root, cwd=root)
    assert code == 1 and _diagnostics(doc) == {"binary.py": "PT904"}
    code, _, err = _apply(run_cli, root, cwd=root)
    assert code == 1 and "binary.py" in err
    assert (root / "binary.py").read_bytes() == raw


def test_empty_and_bom_only_files_are_clean(tmp_path, run_cli):
    root = _tree(tmp_path, {"empty.py": b"", "bom_only.py": codecs.BOM_UTF8, "blank.py": b"\n\n   \n"})
    code, doc = _scan_json(run_cli, root, cwd=root)
    assert code == 0 and doc["findings"] == [] and doc["diagnostics"] == []
    code, _, _ = _apply(run_cli, root, cwd=root)
    assert code == 0
    assert (root / "empty.py").read_bytes() == b"" and (root / "bom_only.py").read_bytes() == codecs.BOM_UTF8


def test_a_20_mb_file_is_scanned_and_ported(tmp_path, run_cli):
    filler = ("lorem ipsum dolor sit amet " * 3 + "\n") * 250_000
    raw = ('import torch\nBLOB = """\n' + filler + '"""\nx = torch.ones(2).cuda()\n').encode()
    assert len(raw) > 19 * 2**20
    root = _tree(tmp_path, {"big.py": raw})
    code, _, _ = _apply(run_cli, root, cwd=root)
    assert code == 1
    assert (root / "big.py").read_bytes() == raw.replace(b".cuda()", b'.to("neuron")')
    _no_temp_files(root)


def test_a_file_over_the_size_limit_is_a_diagnostic(tmp_path, run_cli, monkeypatch):
    from porttool.scan import sources

    monkeypatch.setattr(sources, "MAX_BYTES", 1024)  # stands for the 64 MiB limit
    raw = (CUDA + "# padding\n" * 200).encode()
    root = _tree(tmp_path, {"huge.py": raw, "small.py": CUDA.encode()})
    code, doc = _scan_json(run_cli, root, cwd=root)
    assert code == 1 and _diagnostics(doc) == {"huge.py": "PT908"}
    assert [f["path"] for f in doc["findings"]] == ["small.py"]
    code, _, err = _apply(run_cli, root, cwd=root)
    assert code == 1 and "huge.py" in err and (root / "huge.py").read_bytes() == raw


# --------------------------------------------------------------------------- links and permissions
def test_symlink_loops_are_reported_or_skipped_never_followed(tmp_path, run_cli):
    root = _tree(tmp_path, {"good.py": CUDA.encode()})
    os.symlink("loop_b.py", root / "loop_a.py")
    os.symlink("loop_a.py", root / "loop_b.py")
    os.symlink(".", root / "self")  # a directory loop
    code, doc = _scan_json(run_cli, root, cwd=root)
    assert code == 1 and [f["path"] for f in doc["findings"]] == ["good.py"] and doc["diagnostics"] == []
    # named explicitly, the looping link is a per-file diagnostic
    code, doc = _scan_json(run_cli, root / "loop_a.py", root / "good.py", cwd=root)
    assert code == 1 and _diagnostics(doc) == {"loop_a.py": "PT901"}
    assert "symbolic links" in doc["diagnostics"][0]["message"]
    code, _, _ = _apply(run_cli, root, cwd=root)
    assert code == 1 and os.readlink(root / "loop_a.py") == "loop_b.py"


def test_symlink_pointing_outside_the_tree_is_neither_reported_nor_written(tmp_path, run_cli):
    outside = tmp_path / "elsewhere" / "secret.py"
    outside.parent.mkdir()
    outside.write_text(CUDA)
    root = _tree(tmp_path, {"good.py": CUDA.encode()})
    os.symlink(outside, root / "escape.py")
    code, doc = _scan_json(run_cli, root, cwd=root)
    assert code == 1 and {f["path"] for f in doc["findings"]} == {"good.py"}
    code, _, _ = _apply(run_cli, root, cwd=root)
    assert code == 1
    assert outside.read_text() == CUDA and (root / "escape.py").is_symlink()


def test_symlink_inside_the_tree_is_written_through_and_stays_a_link(tmp_path, run_cli):
    root = _tree(tmp_path, {"real.py": CUDA.encode()})
    os.symlink("real.py", root / "alias.py")
    code, _, err = _apply(run_cli, root, cwd=root)
    assert code == 1 and "not written" not in err
    assert (root / "alias.py").is_symlink() and os.readlink(root / "alias.py") == "real.py"
    assert (root / "real.py").read_text() == PORTED


def test_unreadable_file_is_a_diagnostic(tmp_path, run_cli, monkeypatch):
    root = _tree(tmp_path, {"secret.py": CUDA.encode(), "good.py": CUDA.encode()})
    secret = root / "secret.py"
    secret.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the read fail the way it fails for a user
        real_read_bytes = Path.read_bytes

        def read_bytes(self: Path) -> bytes:
            if self.name == "secret.py":
                raise PermissionError(13, "Permission denied", str(self))
            return real_read_bytes(self)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)
    try:
        code, doc = _scan_json(run_cli, root, cwd=root)
        assert code == 1 and _diagnostics(doc) == {"secret.py": "PT901"}
        assert "permission denied" in doc["diagnostics"][0]["message"]
        code, _, err = _apply(run_cli, root, cwd=root)
        assert code == 1 and "secret.py" in err
        assert (root / "good.py").read_text() == PORTED
        assert stat.S_IMODE(secret.stat().st_mode) == 0
    finally:
        secret.chmod(0o644)
    assert secret.read_text() == CUDA


def test_directory_named_like_a_python_file_is_walked_not_read(tmp_path, run_cli):
    root = _tree(tmp_path, {"x.py/inner.py": CUDA.encode()})
    code, doc = _scan_json(run_cli, root, cwd=root)
    assert code == 1 and doc["diagnostics"] == [] and [f["path"] for f in doc["findings"]] == ["x.py/inner.py"]
    code, doc = _scan_json(run_cli, root / "x.py", cwd=root)  # named explicitly: still a directory
    assert code == 1 and doc["diagnostics"] == [] and [f["path"] for f in doc["findings"]] == ["x.py/inner.py"]
    code, _, _ = _apply(run_cli, root / "x.py", cwd=root)
    assert code == 1 and (root / "x.py" / "inner.py").read_text() == PORTED


def test_file_deleted_between_discovery_and_read(tmp_path, run_cli, monkeypatch):
    from porttool.scan import run as scan_run

    root = _tree(tmp_path, {"gone.py": CUDA.encode(), "stays.py": CUDA.encode()})
    real_read_source = scan_run.read_source

    def read_source(path: Path, display: str):
        if path.name == "gone.py" and path.exists():
            path.unlink()  # another process removes it mid-scan
        return real_read_source(path, display)

    monkeypatch.setattr(scan_run, "read_source", read_source)
    code, doc = _scan_json(run_cli, root, cwd=root)
    assert code == 1 and _diagnostics(doc) == {"gone.py": "PT901"}
    assert "disappeared" in doc["diagnostics"][0]["message"]
    assert [f["path"] for f in doc["findings"]] == ["stays.py"]


def test_file_deleted_between_rewrite_and_write_is_not_recreated(tmp_path, run_cli, monkeypatch):
    from porttool.rewrite import write_back

    root = _tree(tmp_path, {"gone.py": CUDA.encode(), "stays.py": CUDA.encode()})
    real_read_source = write_back.read_source

    def read_source(path: Path, display: str):
        if path.name == "gone.py" and path.exists():
            path.unlink()
        return real_read_source(path, display)

    monkeypatch.setattr(write_back, "read_source", read_source)
    code, _, err = _apply(run_cli, root, cwd=root)
    assert code == 1 and "gone.py" in err and "disappeared" in err
    assert not (root / "gone.py").exists() and (root / "stays.py").read_text() == PORTED
    _no_temp_files(root)


def test_file_edited_between_rewrite_and_write_is_not_overwritten(tmp_path, run_cli, monkeypatch):
    from porttool.rewrite import write_back

    root = _tree(tmp_path, {"busy.py": CUDA.encode()})
    edited = CUDA + "y = 2  # the user typed this meanwhile\n"
    real_read_source = write_back.read_source

    def read_source(path: Path, display: str):
        path.write_text(edited)
        return real_read_source(path, display)

    monkeypatch.setattr(write_back, "read_source", read_source)
    code, _, err = _apply(run_cli, root, cwd=root)
    assert code == 1 and "busy.py" in err and "changed" in err
    assert (root / "busy.py").read_text() == edited


def test_read_only_file_is_not_written_under_apply(tmp_path, run_cli):
    root = _tree(tmp_path, {"locked.py": CUDA.encode(), "open.py": CUDA.encode()})
    locked = root / "locked.py"
    locked.chmod(0o444)
    try:
        code, _, err = _apply(run_cli, root, cwd=root)
        assert code == 1
        assert "locked.py" in err and "read-only" in err
        assert "1 of 2 files ported in place" in err  # the summary counts only what was written
        assert locked.read_text() == CUDA and stat.S_IMODE(locked.stat().st_mode) == 0o444
        assert (root / "open.py").read_text() == PORTED
        _no_temp_files(root)
    finally:
        locked.chmod(0o644)


def test_file_in_a_read_only_directory_is_reported_not_written(tmp_path, run_cli, monkeypatch):
    import tempfile

    root = _tree(tmp_path, {"pkg/mod.py": CUDA.encode()})

    def no_temp_file(*args, **kwargs):  # what a read-only directory does to the atomic write (even for root)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", no_temp_file)
    code, _, err = _apply(run_cli, root, cwd=root)
    assert code == 1 and "pkg/mod.py" in err and "Permission denied" in err
    assert (root / "pkg" / "mod.py").read_text() == CUDA


@pytest.mark.parametrize("target", ["neuron", "portable", "neuron-xla"])
def test_every_target_keeps_bom_crlf_and_latin1_together(tmp_path, run_cli, target):
    text = "# -*- coding: latin-1 -*-\r\nimport torch\r\nname = 'é'\r\nx = torch.ones(2).cuda()\r\ntorch.cuda.synchronize()\r\n"
    root = _tree(tmp_path, {"a.py": text.encode("latin-1"), "b.py": codecs.BOM_UTF8 + text.replace("latin-1", "utf-8").encode()})
    code, _, _ = run_cli("rewrite", str(root), "--apply", "--allow-dirty", "--target", target, cwd=root)
    assert code == 1
    a, b = (root / "a.py").read_bytes(), (root / "b.py").read_bytes()
    assert b"caf" not in a and b"\xe9" in a and a.startswith(b"# -*- coding: latin-1 -*-\r\n")
    assert b.startswith(codecs.BOM_UTF8) and "é".encode() in b
    for data in (a, b):
        assert b".cuda()" not in data and data.count(b"\n") == data.count(b"\r\n")


def test_todo_markers_in_a_latin1_file_are_written_in_latin1(tmp_path, run_cli):
    """Found by the fuzzer: `--mark-unfixed` guidance quotes arrows and ellipses that latin-1 lacks;
    the port could not be written. The markers are now spelled in ASCII there; a rerun adds nothing."""
    text = "# -*- coding: latin-1 -*-\nname = 'café'\nfrom apex import amp\n"
    root = _tree(tmp_path, {"old.py": text.encode("latin-1")})
    code, _, err = run_cli("rewrite", str(root), "--apply", "--allow-dirty", "--mark-unfixed", cwd=root)
    assert code == 1 and "not written" not in err
    data = (root / "old.py").read_bytes()
    assert b"# porttool: TODO(PT707):" in data and b"caf\xe9" in data and b"->" in data
    code, _, _ = run_cli("rewrite", str(root), "--apply", "--allow-dirty", "--mark-unfixed", cwd=root)
    assert code == 0 and (root / "old.py").read_bytes() == data
