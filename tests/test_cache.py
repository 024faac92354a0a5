"""The scan result cache: hits, misses, invalidation, damage tolerance, concurrency, and that a
cached scan reports exactly what a fresh one does."""

from __future__ import annotations

import json
import marshal
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from porttool.scan import discovery
from porttool.scan import run as scan_run
from porttool import caching
from porttool.scan import result_cache, result_codec
from porttool.scan.result_cache import ScanCache
from porttool.scan.discovery import Candidate
from porttool.model import Diagnostic, FileResult, Finding, FixStatus, Severity, Site, Span

REPO = Path(__file__).resolve().parent.parent
CUDA = "import torch\nx = torch.zeros(3).cuda()\ntorch.cuda.synchronize()\n"
PLAIN = "import torch\nx = torch.zeros(3)\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "a.py").write_text(CUDA)
    (root / "b.py").write_text(PLAIN)
    (root / "c.py").write_text("def broken(:\n    x.cuda()\n")  # a diagnostic is cached too
    return root


@pytest.fixture
def counted(monkeypatch):
    """Count the files actually scanned (not served from the cache)."""
    calls: list[str] = []
    real = scan_run.scan_one

    def scan_one(candidate, options):  # type: ignore[no-untyped-def]
        calls.append(candidate.path.name)
        return real(candidate, options)

    monkeypatch.setattr(scan_run, "scan_one", scan_one)
    return calls


def run(root: Path, registry, target: str = "neuron", directory: Path | None = None) -> tuple[list[FileResult], ScanCache]:
    store = ScanCache.open(registry.signature, target, directory)
    assert store is not None
    candidates = discovery.collect_candidates([root], (), registry)
    options = scan_run.ScanOptions(registry=registry, target=target, root=str(root))
    try:
        return list(scan_run.scan_paths(candidates, options, jobs=1, cache=store)), store
    finally:
        store.close()


def test_unchanged_files_come_from_the_cache(tree, registry, counted):
    first, store = run(tree, registry)
    assert sorted(counted) == ["a.py", "b.py", "c.py"] and store.hits == 0
    counted.clear()
    second, store = run(tree, registry)
    assert counted == [] and store.hits == 3
    assert second == first
    assert [f.code for f in second[0].findings] == ["PT001", "PT105"]
    assert second[2].diagnostics[0].code == "PT902"


def test_a_changed_file_is_scanned_again(tree, registry, counted):
    run(tree, registry)
    counted.clear()
    (tree / "b.py").write_text(PLAIN + "y = x.cuda()\n")
    results, store = run(tree, registry)
    assert counted == ["b.py"] and store.hits == 2
    assert [f.code for f in results[1].findings] == ["PT001"]


def test_same_bytes_under_another_path_are_not_shared(tree, registry, counted):
    run(tree, registry)
    counted.clear()
    (tree / "d.py").write_text(CUDA)  # a.py's bytes: the findings must name d.py
    results, _ = run(tree, registry)
    assert counted == ["d.py"]
    assert {f.path for f in results[3].findings} == {"d.py"}


def test_rule_changes_invalidate(tree, registry, counted):
    run(tree, registry)
    counted.clear()
    fewer = registry.select(["PT1"], [])
    results, store = run(tree, fewer)
    assert sorted(counted) == ["a.py", "b.py", "c.py"] and store.hits == 0
    assert [f.code for f in results[0].findings] == ["PT105"]


def test_an_edited_rule_file_invalidates(tree, registry, tmp_path, counted):
    from porttool.ruleset.registry import load_registry

    rules = tmp_path / "rules"
    rules.mkdir()
    text = (REPO / "rules" / "runtime" / "PT105-cuda-synchronize.toml").read_text()
    own = rules / "PT105-cuda-synchronize.toml"
    own.write_text(text)
    first = load_registry([rules], builtin=False)
    run(tree, first)
    counted.clear()
    own.write_text(text.replace('severity = "error"', 'severity = "warning"', 1))
    second = load_registry([rules], builtin=False)
    assert second.signature != first.signature
    results, store = run(tree, second)
    assert store.hits == 0 and len(counted) == 3
    assert [f.severity for f in results[0].findings] == [Severity.WARNING]


def test_target_version_and_code_invalidate(tree, registry, counted, monkeypatch):
    run(tree, registry, "neuron")
    counted.clear()
    results, store = run(tree, registry, "portable")
    assert store.hits == 0 and len(counted) == 3
    assert {f.target for f in results[0].findings} == {"portable"}
    counted.clear()
    _, store = run(tree, registry, "neuron")
    assert store.hits == 3 and counted == []
    monkeypatch.setattr(result_cache, "__version__", "99.0")
    _, store = run(tree, registry, "neuron")
    assert store.hits == 0
    monkeypatch.setattr(result_cache, "code_signature", lambda: "edited-checkout")
    _, store = run(tree, registry, "neuron")
    assert store.hits == 0


def test_config_changes_invalidate_through_the_cli(tree, run_cli):
    (tree / "pyproject.toml").write_text('[tool.porttool]\ntarget = "neuron"\n')
    code, out, _ = run_cli("scan", ".", "-f", "json", cwd=tree)
    first = json.loads(out)
    assert code == 1 and {f["target"] for f in first["findings"]} == {"neuron"}
    (tree / "pyproject.toml").write_text('[tool.porttool]\ntarget = "portable"\nignore = ["PT1"]\n')
    code, out, _ = run_cli("scan", ".", "-f", "json", cwd=tree)
    second = json.loads(out)
    assert {f["target"] for f in second["findings"]} == {"portable"}
    assert [f["code"] for f in second["findings"]] == ["PT001"]


def test_a_corrupt_entry_is_a_miss(tree, registry, counted):
    run(tree, registry)
    database = Path(os.environ["PORTTOOL_CACHE_DIR"]) / result_cache.DATABASE
    with sqlite3.connect(database) as db:
        db.execute("UPDATE entries SET value = ?", (b'{"@":"FileResult","f":[1,2',))
    counted.clear()
    results, store = run(tree, registry)
    assert sorted(counted) == ["a.py", "b.py", "c.py"] and store.hits == 0
    assert [f.code for f in results[0].findings] == ["PT001", "PT105"]
    counted.clear()
    _, store = run(tree, registry)  # the damaged entries were replaced
    assert store.hits == 3 and counted == []


def test_an_entry_of_another_shape_is_a_miss(tree, registry):
    run(tree, registry)
    database = Path(os.environ["PORTTOOL_CACHE_DIR"]) / result_cache.DATABASE
    with sqlite3.connect(database) as db:
        db.execute("UPDATE entries SET value = ?", (b'{"@":"Span","f":[1,2]}',))  # wrong class, wrong arity
    results, store = run(tree, registry)
    assert store.hits == 0 and [f.code for f in results[0].findings] == ["PT001", "PT105"]


def test_a_corrupt_database_is_replaced(tree, registry):
    directory = Path(os.environ["PORTTOOL_CACHE_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    (directory / result_cache.DATABASE).write_bytes(b"this is not a database" * 100)
    results, store = run(tree, registry)
    assert [f.code for f in results[0].findings] == ["PT001", "PT105"]
    assert any(p.name.startswith(result_cache.DATABASE + ".corrupt-") for p in directory.iterdir())
    _, store = run(tree, registry)
    assert store.hits == 3


def test_an_unusable_cache_directory_disables_the_cache(tree, registry):
    blocker = tree / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    assert ScanCache.open(registry.signature, "neuron", blocker / "cache") is None


def test_cache_values_round_trip():
    finding = Finding(
        code="PT001", rule="cuda-method-call", message="m é", path="p/ä.py", span=Span(1, 2, 3, 4),
        severity=Severity.ERROR, target="neuron", status=FixStatus.SAFE, fingerprint="f", cell=None,
    )
    result = FileResult(
        path="p/ä.py", findings=(finding,), diagnostics=(Diagnostic("PT902", "p/ä.py", "syntax", 3, 1),), suppressed=2,
        sites=(Site("PT001", Span(1, 2, 3, 4), "Call", name="x", claim=Span(1, 2, 1, 3)),),
    )
    assert result_codec.loads(result_codec.dumps(result)) == result
    with pytest.raises(TypeError):
        result_codec.encode(object())
    with pytest.raises(TypeError):  # a value of another shape: not a result
        result_codec.loads(marshal.dumps(("porttool-scan-2", "p.py")))
    with pytest.raises(ValueError):  # not marshal data at all
        result_codec.loads(b'{"@":"Span","f":[1,2,3,4]}')
    for damaged in (result_codec.dumps(result)[:-7], marshal.dumps((1, 2)), marshal.dumps(result_codec.encode(result)[:9])):
        with pytest.raises(result_codec.DECODE_ERRORS):
            result_codec.loads(damaged)


CONCURRENT = """
import sys
from pathlib import Path
from porttool.scan import discovery
from porttool.scan import run as scan_run
from porttool.scan.result_cache import ScanCache
from porttool.ruleset.registry import load_registry
registry = load_registry()
root = Path(sys.argv[1])
for _ in range(3):
    store = ScanCache.open(registry.signature, "neuron")
    candidates = discovery.collect_candidates([root], (), registry)
    options = scan_run.ScanOptions(registry=registry, target="neuron", root=str(root))
    results = list(scan_run.scan_paths(candidates, options, jobs=1, cache=store))
    store.close()
print(len(results), sum(len(r.findings) for r in results))
"""


def test_concurrent_writers_do_not_corrupt_the_cache(tmp_path, registry, monkeypatch):
    root = tmp_path / "many"
    root.mkdir()
    for i in range(300):
        (root / f"m{i:03}.py").write_text(CUDA + f"v{i} = {i}\n" if i % 2 else PLAIN + f"v{i} = {i}\n")
    monkeypatch.setattr(result_cache, "COMMIT_EVERY", 7)  # many small transactions in this process too
    script = tmp_path / "writer.py"
    script.write_text(CONCURRENT.replace("import sys\n", "import sys\nimport porttool.scan.result_cache as c\nc.COMMIT_EVERY = 5\n", 1))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [subprocess.Popen([sys.executable, str(script), str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in writers]
    for writer, (out, err) in zip(writers, outputs):
        assert writer.returncode == 0, err
        assert out.split() == ["300", "300"]
    database = Path(os.environ["PORTTOOL_CACHE_DIR"]) / result_cache.DATABASE
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone() == (300,)
    results, store = run(root, registry)
    assert store.hits == 300
    fresh = [scan_run.scan_one(Candidate(root / r.path, False), scan_run.ScanOptions(registry, "neuron", str(root))) for r in results]
    assert results == fresh


def _report(run_cli, cwd: Path, *extra: str) -> dict:
    code, out, _ = run_cli("scan", ".", "-f", "json", *extra, cwd=cwd)
    assert code == 1
    return json.loads(out)


def test_reports_are_identical_with_and_without_the_cache(tmp_path, run_cli):
    import shutil

    work = tmp_path / "samples"
    shutil.copytree(REPO / "sample_models", work)
    directory = Path(os.environ["PORTTOOL_CACHE_DIR"])
    fresh = _report(run_cli, work, "--no-cache")
    assert not (directory / result_cache.DATABASE).exists()  # --no-cache writes nothing
    cold = _report(run_cli, work)
    assert (directory / result_cache.DATABASE).exists()
    warm = _report(run_cli, work)
    assert fresh["findings"] and fresh == cold == warm
    with sqlite3.connect(directory / result_cache.DATABASE) as db:  # one entry per scanned file
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == fresh["summary"]["files_scanned"] > 20


def test_the_cache_can_be_switched_off(tree, run_cli, monkeypatch):
    directory = Path(os.environ["PORTTOOL_CACHE_DIR"])
    (tree / "pyproject.toml").write_text("[tool.porttool]\ncache = false\n")
    run_cli("scan", ".", cwd=tree)
    assert not (directory / result_cache.DATABASE).exists()
    (tree / "pyproject.toml").unlink()
    monkeypatch.setenv("PORTTOOL_NO_CACHE", "1")
    run_cli("scan", ".", cwd=tree)
    assert not (directory / result_cache.DATABASE).exists()
    monkeypatch.delenv("PORTTOOL_NO_CACHE")
    run_cli("scan", ".", cwd=tree)
    assert (directory / result_cache.DATABASE).exists()


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTTOOL_CACHE_DIR", str(tmp_path / "explicit"))
    assert caching.cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("PORTTOOL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert caching.cache_dir() == tmp_path / "xdg" / "porttool"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert caching.cache_dir() == tmp_path / "home" / ".cache" / "porttool"


# the stat fast path --------------------------------------------------------------------------------


@pytest.fixture
def reads(monkeypatch):
    """Count the files the cache reads to hash, and move its clock past the racy window."""
    seen: list[str] = []
    real = result_cache._read

    def read(path):  # type: ignore[no-untyped-def]
        seen.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(result_cache, "_read", read)
    return seen


def later(monkeypatch, seconds: float = 60.0) -> None:
    """Every stat taken from now on looks `seconds` old: no longer racy, so it is recorded."""
    import time

    monkeypatch.setattr(result_cache, "_now", lambda: time.time() + seconds)


def test_an_unchanged_file_is_not_even_read(tree, registry, counted, reads, monkeypatch):
    later(monkeypatch)
    first, _ = run(tree, registry)  # hashes every file, records the stats
    assert sorted(reads) == ["a.py", "b.py", "c.py"]
    reads.clear()
    counted.clear()
    second, store = run(tree, registry)
    assert reads == [] and counted == [] and store.hits == 3
    assert second == first


def test_a_racy_stat_is_not_trusted(tree, registry, counted, reads):
    """Files written just now (mtime within RACY_S of the scan) are hashed on every run, so an edit
    within the file system's timestamp granularity is still seen."""
    run(tree, registry)
    reads.clear()
    counted.clear()
    original = (tree / "a.py").stat()
    (tree / "a.py").write_text(CUDA.replace("zeros", "ZEROS"))  # same size, same second
    os.utime(tree / "a.py", ns=(original.st_atime_ns, original.st_mtime_ns))
    results, _ = run(tree, registry)
    assert sorted(reads) == ["a.py", "b.py", "c.py"] and counted == ["a.py"]
    assert "ZEROS" in results[0].findings[0].snippet


@pytest.mark.parametrize("how", ["same size, mtime put back", "touch", "replaced by rename, same size and mtime", "grown"])
def test_a_changed_file_never_matches_its_recorded_stat(tree, registry, counted, reads, monkeypatch, how):
    """What the fast path guarantees: any write or utime sets the ctime, a rename changes the
    inode, so an edited file is always read again (even with its size and mtime kept)."""
    later(monkeypatch)
    run(tree, registry)
    counted.clear()
    reads.clear()
    path = tree / "a.py"
    before = path.stat()
    edited = CUDA.replace("zeros", "ZEROS") if how != "grown" else CUDA + "y = x.cuda()\n"
    if how == "replaced by rename, same size and mtime":
        other = tree / "a.tmp"
        other.write_text(edited)
        os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.replace(other, path)
    elif how == "touch":
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
        edited = CUDA
    else:
        path.write_text(edited)
        if how != "grown":
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    if how != "grown":
        assert after.st_size == before.st_size
    results, _ = run(tree, registry)
    assert reads == ["a.py"]  # the others matched their stats
    assert counted == ([] if how == "touch" else ["a.py"])  # a touch keeps the bytes: a content hit
    assert results[0] == scan_run.scan_one(Candidate(path, False), scan_run.ScanOptions(registry, "neuron", str(tree)))
    assert ("ZEROS" in results[0].findings[0].snippet) is (how not in ("touch", "grown"))


def test_a_recorded_stat_under_another_displayed_path_is_not_used(tree, registry, reads, monkeypatch):
    later(monkeypatch)
    run(tree, registry)
    reads.clear()
    store = ScanCache.open(registry.signature, "neuron")
    candidates = discovery.collect_candidates([tree], (), registry)
    options = scan_run.ScanOptions(registry=registry, target="neuron", root=str(tree.parent))  # paths shown as proj/a.py
    try:
        results = list(scan_run.scan_paths(candidates, options, jobs=1, cache=store))
    finally:
        store.close()
    assert sorted(reads) == ["a.py", "b.py", "c.py"]
    assert results[0].findings[0].path == "proj/a.py"


def test_an_entry_that_vanishes_between_the_passes_is_scanned_again(tree, registry, counted, monkeypatch):
    run(tree, registry)
    counted.clear()
    real = ScanCache.values
    monkeypatch.setattr(ScanCache, "values", lambda self, keys: {k: v for k, v in real(self, keys).items() if v is not None and k != next(iter(keys))})
    results, store = run(tree, registry)
    assert counted == ["a.py"] and store.hits == 2
    assert [f.code for f in results[0].findings] == ["PT001", "PT105"]


def test_lookups_go_in_batches(tmp_path, registry, monkeypatch):
    root = tmp_path / "many"
    root.mkdir()
    for i in range(25):
        (root / f"m{i:02}.py").write_text(CUDA + f"v = {i}\n" if i % 3 else PLAIN)
    monkeypatch.setattr(result_cache, "CHUNK", 4)
    first, _ = run(root, registry)
    queries: list[int] = []
    real = ScanCache._select

    def select(self, sql, items):  # type: ignore[no-untyped-def]
        assert len(items) <= 4
        queries.append(len(items))
        return real(self, sql, items)

    monkeypatch.setattr(ScanCache, "_select", select)
    second, store = run(root, registry)
    assert second == first and store.hits == 25
    assert sum(1 for n in queries if n) <= 3 * 7 + 7  # stats, existence and values per chunk of 4


def test_a_file_edited_while_the_scan_runs_leaves_no_wrong_entry(tree, registry, monkeypatch):
    """Hashed, then edited before it is scanned (a branch switch mid-scan): the result describes
    the new bytes, so it must not be stored under the old bytes' key — else going back to the old
    bytes would be served the new bytes' findings."""
    target = tree / "a.py"
    real = scan_run.scan_one
    edited: list[str] = []

    def edit_then_scan(candidate, options):  # type: ignore[no-untyped-def]
        if candidate.path.name == "a.py" and not edited:
            target.write_text(PLAIN + "# edited\n")
            edited.append("a.py")
        return real(candidate, options)

    monkeypatch.setattr(scan_run, "scan_one", edit_then_scan)
    first, _ = run(tree, registry)
    assert edited and first[0].findings == ()  # the run reports what it read: the edited file
    monkeypatch.setattr(scan_run, "scan_one", real)
    target.write_text(CUDA)  # back to the bytes that were hashed
    again, _ = run(tree, registry)
    assert [f.code for f in again[0].findings] == ["PT001", "PT105"]


def test_the_cache_database_never_waits_for_the_disk(tmp_path):
    """A cache, not a record: no fsync (closing a WAL database with synchronous=NORMAL
    checkpoints with two fsyncs, ~20 ms of every pre-commit run)."""
    from porttool.scan.result_cache import ScanCache

    cache = ScanCache.open("sig", "neuron", tmp_path)
    assert cache is not None
    try:
        assert cache.connection.execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF
        assert cache.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        cache.close()
