"""The process pool shared by scan and rewrite: spawn workers, bounded work in flight, results
in task order, workers that end with porttool, and when a pool is worth starting at all."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")
Item = TypeVar("Item")


class _OnDisk(Protocol):
    @property
    def path(self) -> os.PathLike[str] | str: ...


# Two spawned workers cost about 0.3-0.5 CPU s more than one process (interpreter start-up,
# imports, the rules, pickling every batch both ways), so the pool pays only when there is enough
# text to parse. The measure is the bytes of the files (`os.stat`, counted only up to the
# threshold). Measured on 2 cores (`-j 1` vs a forced pool at `-j 2`, `--no-cache`), torch subsets:
# 1.0 MB 0.35 vs 0.64 CPU s; 2.6 MB (the TorchFix comparison) 0.69 vs 1.04; 5.8 MB 1.38 vs 1.88;
# 11 MB 2.72 vs 3.36. What the pool buys is wall time on a quiet machine (the 46 MB torch corpus:
# 12.5 s at -j 1, 6.35 s at -j 2); on a loaded one it buys nothing. The threshold keeps small
# scans (a pre-commit run, the TorchFix comparison) in one process.
POOL_MIN_BYTES = 4 * 1024 * 1024
POOL_MIN_FILES = 8  # fewer files than this never go to a pool, whatever their size


def use_pool(candidates: Sequence[_OnDisk], jobs: int) -> bool:
    """Whether scanning these candidates in `jobs` worker processes is worth starting them."""
    if jobs <= 1 or len(candidates) < POOL_MIN_FILES:
        return False
    total = 0
    for candidate in candidates:
        try:
            total += os.stat(candidate.path).st_size
        except OSError:
            continue
        if total >= POOL_MIN_BYTES:
            return True
    return False


def pooled(function: Callable[[T], R], tasks: Iterable[T], jobs: int) -> Iterator[R]:
    """`function` over `tasks` in a spawn pool of `jobs` workers; results in task order. At most a
    few tasks per worker are in flight, so finished results never pile up ahead of the consumer."""
    import concurrent.futures
    import multiprocessing
    from collections import deque

    context = multiprocessing.get_context("spawn")
    window = max(2, jobs * IN_FLIGHT_PER_WORKER)
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
        pending: deque[concurrent.futures.Future[R]] = deque()
        todo = iter(tasks)
        try:
            for task in todo:
                pending.append(pool.submit(function, task))
                if len(pending) >= window:
                    break
            while pending:
                result = pending.popleft().result()
                for task in todo:
                    pending.append(pool.submit(function, task))
                    break
                yield result
        finally:
            for future in pending:
                future.cancel()


IN_FLIGHT_PER_WORKER = 8  # batches per worker submitted ahead: enough that one slow batch does not idle the others


def exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this worker when porttool itself is gone (killed with SIGKILL, a
    worker would otherwise wait on its task queue forever, holding that queue's pipe open itself)."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="porttool-parent-watch", daemon=True).start()


def batches(items: Sequence[Item], jobs: int) -> Iterator[Sequence[Item]]:
    """Slices of the candidates for the pool, made as it asks for them (a `CandidateList` stays
    compact): a few per worker, 8 to 64 files each."""
    size = max(8, min(64, len(items) // (jobs * 8) or 1))
    for i in range(0, len(items), size):
        yield items[i : i + size]
