"""When `scan` starts worker processes: only for enough bytes of source (a pool's start-up costs
more CPU than it saves on small scans); pooled results stream in order with bounded look-ahead."""

from __future__ import annotations

from pathlib import Path

import pytest

from porttool.scan import discovery
from porttool import pool
from porttool.scan import run as scan_run
from porttool.scan.discovery import Candidate

CUDA = "import torch\nx = torch.zeros(3).cuda()\ntorch.cuda.synchronize()\n"


def tree(root: Path, files: int, padding: int = 0) -> list[Candidate]:
    root.mkdir()
    for i in range(files):
        (root / f"m{i:03}.py").write_text(CUDA + f"v = {i}\n" + "# pad\n" * padding)
    return [Candidate(p, False) for p in sorted(root.iterdir())]


def test_the_pool_decision_follows_the_bytes_to_scan(tmp_path, monkeypatch):
    small = tree(tmp_path / "small", 60)  # 60 files (more than the old 48-file threshold), 4 kB
    assert not pool.use_pool(small, 2)
    monkeypatch.setattr(pool, "POOL_MIN_BYTES", 2000)
    assert pool.use_pool(small, 2)
    assert not pool.use_pool(small, 1)  # -j 1: never
    assert not pool.use_pool(small[: pool.POOL_MIN_FILES - 1], 2)  # too few files to share out
    assert not pool.use_pool([Candidate(tmp_path / "missing.py", False)] * 20, 2)


def test_the_stat_stops_at_the_threshold(tmp_path, monkeypatch):
    big = tree(tmp_path / "big", 30, padding=50)
    stats: list[str] = []
    real = pool.os.stat

    def stat(path, *a, **kw):  # type: ignore[no-untyped-def]
        stats.append(str(path))
        return real(path, *a, **kw)

    monkeypatch.setattr(pool, "POOL_MIN_BYTES", 3 * big[0].path.stat().st_size)
    monkeypatch.setattr(pool.os, "stat", stat)
    assert pool.use_pool(big, 2)
    assert len(stats) == 3


def test_a_small_scan_starts_no_pool(tmp_path, registry, monkeypatch):
    candidates = tree(tmp_path / "t", 60)

    def no_pool(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a pool was started for a small scan")

    monkeypatch.setattr(scan_run, "pooled", no_pool)
    options = scan_run.ScanOptions(registry=registry, target="neuron", root=str(tmp_path))
    results = list(scan_run.scan_paths(candidates, options, jobs=2))
    assert len(results) == 60 and all(len(r.findings) == 2 for r in results)


def test_pooled_results_equal_serial_ones_in_order(tmp_path, registry, monkeypatch):
    candidates = tree(tmp_path / "t", 70)
    options = scan_run.ScanOptions(registry=registry, target="neuron", root=str(tmp_path))
    serial = list(scan_run.scan_paths(candidates, options, jobs=1))
    monkeypatch.setattr(pool, "POOL_MIN_BYTES", 1)
    monkeypatch.setattr(pool, "IN_FLIGHT_PER_WORKER", 2)
    used: list[int] = []
    real = pool.pooled

    def pooled(function, tasks, jobs):  # type: ignore[no-untyped-def]
        tasks = list(tasks)
        used.append(len(tasks))
        return real(function, tasks, jobs)

    monkeypatch.setattr(scan_run, "pooled", pooled)
    assert list(scan_run.scan_paths(candidates, options, jobs=2)) == serial
    assert used and used[0] > 2 * pool.IN_FLIGHT_PER_WORKER  # more batches than the window


def _double(n: int) -> int:
    return 2 * n


def test_the_pool_keeps_a_bounded_window_in_flight(monkeypatch):
    import concurrent.futures

    submitted: list[int] = []
    real_submit = concurrent.futures.ProcessPoolExecutor.submit

    def submit(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        submitted.append(args[0])
        return real_submit(self, fn, *args, **kwargs)

    monkeypatch.setattr(concurrent.futures.ProcessPoolExecutor, "submit", submit)
    monkeypatch.setattr(pool, "IN_FLIGHT_PER_WORKER", 3)
    results = pool.pooled(_double, list(range(40)), 2)
    window = 2 * pool.IN_FLIGHT_PER_WORKER
    assert next(results) == 0
    assert len(submitted) <= window + 1  # not all 40 at once
    assert list(results) == [2 * n for n in range(1, 40)]
    assert submitted == list(range(40))


@pytest.mark.parametrize("jobs", [1, 2])
def test_cached_and_pooled_scans_agree(tmp_path, registry, monkeypatch, jobs):
    from porttool.scan.result_cache import ScanCache

    candidates = tree(tmp_path / "t", 50)
    options = scan_run.ScanOptions(registry=registry, target="neuron", root=str(tmp_path))
    monkeypatch.setattr(pool, "POOL_MIN_BYTES", 1)
    store = ScanCache.open(registry.signature, "neuron")
    assert store is not None
    try:
        cold = list(scan_run.scan_paths(candidates, options, jobs=jobs, cache=store))
    finally:
        store.close()
    assert cold == list(scan_run.scan_paths(candidates, options, jobs=1))


def test_ordered_candidates_are_compact_and_sorted_as_reports_sort(tmp_path, registry):
    root = tmp_path / "p"
    for name in ["z.py", "a/b.py", "a-b.py", "a/c/d.py", "a.py", "notes.txt"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x = 1\n")
    walked = discovery.collect_candidates([root], (), registry)
    ordered = discovery.ordered_candidates([root], (), registry, str(tmp_path))
    shown = [discovery.display_path(c.path, str(tmp_path)) for c in ordered]
    assert shown == sorted(shown) == ["p/a-b.py", "p/a.py", "p/a/b.py", "p/a/c/d.py", "p/z.py"]
    assert shown != [discovery.display_path(c.path, str(tmp_path)) for c in walked]  # the walk's order differs
    assert sorted(ordered, key=lambda c: str(c.path)) == sorted(walked, key=lambda c: str(c.path))
    assert list(ordered[1:3]) == [ordered[1], ordered[2]] and len(ordered[1:3]) == 2
    assert list(ordered.pick([4, 0])) == [ordered[4], ordered[0]]
    only = {(root / "a.py").resolve()}
    assert [c.path.name for c in discovery.ordered_candidates([root], (), registry, str(tmp_path), only)] == ["a.py"]
