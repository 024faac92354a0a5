"""The original's tree: a git ref in a temporary worktree with the working tree's untracked data
visible, or a directory; paths in the command mapped; writes to shared files detected."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from compare_helpers import git

from porttool.check.compare import original as orig
from porttool.check.compare.original import OriginalError, map_command, map_environment, original_tree


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "train.py").write_text("print('original')\n", encoding="utf-8")
    (root / "README").write_text("tracked\n", encoding="utf-8")
    (root / ".gitignore").write_text("data/\n.venv/\n", encoding="utf-8")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "original")
    # the port, and files git does not track
    (root / "src" / "train.py").write_text("print('port')\n", encoding="utf-8")
    (root / "data" / "chars").mkdir(parents=True)
    (root / "data" / "chars" / "train.bin").write_bytes(b"\x01" * 64)
    (root / "data" / "chars" / "big.bin").write_bytes(b"\x02" * 4096)
    (root / "data" / "__pycache__").mkdir()
    (root / "data" / "__pycache__" / "x.pyc").write_bytes(b"")
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr\n", encoding="utf-8")
    (root / "notes.txt").write_text("untracked\n", encoding="utf-8")
    return root


def test_a_ref_is_checked_out_with_the_untracked_data_visible(repo: Path, monkeypatch) -> None:
    monkeypatch.setattr(orig, "COPY_LIMIT", 1024)  # big.bin is linked, the rest copied
    with original_tree(None, repo / "src") as tree:
        root = tree.root
        assert tree.cwd == root / "src" and tree.description.startswith("HEAD (")
        assert (root / "src" / "train.py").read_text() == "print('original')\n"  # REF's code
        assert not tree.same_source
        assert (root / "data" / "chars" / "train.bin").read_bytes() == b"\x01" * 64
        assert not (root / "data" / "chars" / "train.bin").is_symlink()  # small: copied
        big = root / "data" / "chars" / "big.bin"
        assert big.is_symlink() and big.resolve() == (repo / "data" / "chars" / "big.bin").resolve()
        assert (root / ".venv").is_symlink()  # an environment: linked whole
        assert not (root / "data" / "__pycache__").exists()  # caches: skipped
        assert sorted(tree.copied) == ["data/chars/train.bin", "notes.txt"]
        assert tree.linked == ["data/chars/big.bin"] and tree.linked_whole == [".venv"]
        assert tree.modified_links() == []
        (repo / "data" / "chars" / "big.bin").write_bytes(b"\x03" * 10)  # the original writes through
        assert tree.modified_links() == ["data/chars/big.bin"]
        # what the original creates stays in its tree
        (root / "data" / "out.pt").write_bytes(b"x")
    assert not root.exists() and not (repo / "data" / "out.pt").exists()
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True).stdout
    assert len(worktrees.strip().splitlines()) == 1  # the temporary worktree is gone


def test_the_refs_version_of_a_path_wins(repo: Path) -> None:
    (repo / "README").unlink()  # the port deleted a tracked file ...
    git(repo, "rm", "-q", "--cached", "README")
    (repo / "README").write_text("untracked now\n", encoding="utf-8")  # ... and an untracked one took its place
    with original_tree("HEAD", repo) as tree:
        assert (tree.root / "README").read_text() == "tracked\n"


def test_same_source_is_reported(repo: Path) -> None:
    git(repo, "commit", "-qam", "the port")
    with original_tree("HEAD", repo) as tree:
        assert tree.same_source
    with original_tree("HEAD~1", repo) as tree:
        assert not tree.same_source and (tree.root / "src" / "train.py").read_text() == "print('original')\n"


def test_a_directory_is_used_as_it_is(repo: Path, tmp_path: Path) -> None:
    copy = tmp_path / "original-copy"
    (copy / "src").mkdir(parents=True)
    with original_tree(str(copy), repo / "src") as tree:
        assert tree.root == copy.resolve() and tree.cwd == copy.resolve() / "src"
        assert tree.copied == tree.linked == []
    with pytest.raises(OriginalError, match="it has no src/"):
        with original_tree(str(tmp_path / "original-copy" / "src"), repo / "src"):
            pass
    with pytest.raises(OriginalError, match="the working tree itself"):
        with original_tree(str(repo), repo):
            pass


def test_unusable_originals_are_named(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(OriginalError, match="--original nope: neither a directory nor a commit"):
        with original_tree("nope", repo):
            pass
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(OriginalError, match="not in a git repository; give the original's directory"):
        with original_tree(None, plain):
            pass


def test_paths_into_the_working_tree_are_mapped(repo: Path) -> None:
    tree = orig.OriginalTree(Path("/tmp/o/proj"), Path("/tmp/o/proj/src"), repo, "x")
    argv = ["python", f"{repo}/src/train.py", f"--data={repo}/data", "--lr=0.1", "/elsewhere/x.py", "rel.py"]
    assert map_command(argv, tree) == ["python", "/tmp/o/proj/src/train.py", "--data=/tmp/o/proj/data",
                                       "--lr=0.1", "/elsewhere/x.py", "rel.py"]
    env = map_environment({"PYTHONPATH": f"{repo}/src{os.pathsep}/opt/lib", "HOME": "/h"}, tree)
    assert env == {"PYTHONPATH": f"/tmp/o/proj/src{os.pathsep}/opt/lib", "HOME": "/h"}
