"""Read the per-process event files of one run and fold them into RunReport fields.

Each process of the command leaves ``<pid>.json`` (its whole state; ``"final": true`` once it got
to write it at exit) and ``<pid>.events.jsonl`` (a journal appended to as events happen; see
inject/porttool_events.py).  A process that wrote its final snapshot is read from it; one that was
killed first (the timeout's SIGKILL inside a long native op, SIGTERM ignored) is replayed from its
journal, which holds every site it reached, and is counted as unfinished.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from porttool.check.runtime_report import (
    CudaCall,
    Fp64Site,
    HostSync,
    ModelInputs,
    UncaughtException,
)

_JOURNAL = ".events.jsonl"


def replay(lines: Iterable[str], snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
    """A process's state in the snapshot's shape, from its journal (over its last snapshot, if any)."""
    data: dict[str, Any] = dict(snapshot or {})
    tables: dict[str, dict[Any, int]] = {t: {} for t in ("cuda_calls", "host_syncs", "fp64", "model_inputs", "notes", "sites")}
    compiles: list[dict[str, Any]] = list(data.get("compile_calls", []))
    for line in lines:
        try:
            event = json.loads(line)
            table, key, count = event["t"], event["k"], int(event["c"])
        except (ValueError, KeyError, TypeError):
            continue  # the line a kill cut short
        if table == "process":
            for name in ("pid", "ppid", "rank", "argv", "mode"):
                data.setdefault(name, key.get(name))
        elif table == "exception":
            data["exception"] = key
        elif table == "compile_calls":
            if key not in compiles:
                compiles.append(key)
        elif table in tables:
            tables[table][json.dumps(key)] = count  # the latest: counts grow, a dropped note is 0
    def seen(table: str, key: list[Any], count: int) -> None:  # a later snapshot may count more
        k = json.dumps(key)
        tables[table][k] = max(tables[table].get(k, 0), count)

    for c in data.get("cuda_calls", []):
        seen("cuda_calls", [c["file"], c["line"], c["code"], c["api"]], c["count"])
    for h in data.get("host_syncs", []):
        seen("host_syncs", [h["kind"], h["file"], h["line"]], h["count"])
    for f in data.get("fp64", []):
        seen("fp64", [f["file"], f["line"], f["op"]], f["count"])
    for module, sigs in data.get("model_inputs", {}).items():
        for sig, n in sigs.items():
            seen("model_inputs", [module, sig], n)
    for site in data.get("sites", []):
        seen("sites", [site["kind"], site["file"], site["line"]], site["count"])
    for text, n in data.get("notes", {}).items():
        tables["notes"].setdefault(json.dumps(text), n)  # a note the journal dropped stays dropped

    def rows(table: str) -> list[tuple[Any, int]]:
        return [(json.loads(k), n) for k, n in tables[table].items() if n > 0]

    data["cuda_calls"] = [{"file": f, "line": ln, "code": c, "api": a, "count": n} for (f, ln, c, a), n in rows("cuda_calls")]
    data["host_syncs"] = [{"kind": k, "file": f, "line": ln, "count": n} for (k, f, ln), n in rows("host_syncs")]
    data["fp64"] = [{"file": f, "line": ln, "op": op, "count": n} for (f, ln, op), n in rows("fp64")]
    inputs: dict[str, dict[str, int]] = {}
    for (module, sig), n in rows("model_inputs"):
        inputs.setdefault(module, {})[sig] = n
    data["model_inputs"] = inputs
    data["notes"] = {text: n for text, n in rows("notes")}
    data["sites"] = [{"kind": k, "file": f, "line": ln, "count": n} for (k, f, ln), n in rows("sites")]
    data["compile_calls"] = compiles
    data["final"] = False
    return data


def read_processes(report_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Every process's state (sorted by file name) and notes on files that could not be read."""
    problems: list[str] = []
    snapshots: dict[str, dict[str, Any] | None] = {}
    for path in report_dir.glob("*.json"):
        try:
            snapshots[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            snapshots[path.stem] = None
            problems.append(f"an unreadable event file was skipped: {path.name}")
    journals = {p.name[: -len(_JOURNAL)]: p for p in report_dir.glob("*" + _JOURNAL)}
    processes: list[dict[str, Any]] = []
    for name in sorted(set(snapshots) | set(journals)):
        snapshot = snapshots.get(name)
        if snapshot is not None and snapshot.get("final", True):
            processes.append(snapshot)  # complete; "final" is absent in files of older hooks
            continue
        if name not in journals:
            if snapshot is not None:
                processes.append(dict(snapshot, final=False))
            continue
        try:
            lines = journals[name].read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            problems.append(f"an unreadable event file was skipped: {journals[name].name}")
            continue
        processes.append(replay(lines, snapshot))
    return processes, problems


def merge(report_dir: Path, command_pid: int | None = None) -> dict[str, Any]:
    """Fold the per-process event files into RunReport fields."""
    cuda: dict[tuple[str, int, str, str], int] = {}
    syncs: dict[tuple[str, str, int], int] = {}
    fp64: dict[tuple[str, int, str], int] = {}
    sites: dict[tuple[str, str, int], int] = {}
    inputs: dict[str, dict[str, int]] = {}
    compiles: list[tuple[tuple[str, Any], ...]] = []
    versions: dict[str, str] = {}
    unfinished = 0
    exceptions: list[UncaughtException] = []
    processes, problems = read_processes(report_dir)
    notes: set[str] = set(problems)
    for data in processes:
        unfinished += not data.get("final", True)
        versions.update(data.get("versions", {}))
        raised = data.get("exception")
        if raised:
            rank = data.get("rank")
            exceptions.append(UncaughtException(
                pid=int(data.get("pid") or 0), rank=None if rank in (None, "") else int(rank),
                type=str(raised.get("type", "")), message=str(raised.get("message", "")),
                traceback=str(raised.get("traceback", "")),
                is_command=command_pid is not None and data.get("pid") == command_pid))
        for c in data.get("cuda_calls", []):
            key = (c["file"], c["line"], c["code"], c["api"])
            cuda[key] = cuda.get(key, 0) + c["count"]
        for h in data.get("host_syncs", []):
            key2 = (h["kind"], h["file"], h["line"])
            syncs[key2] = syncs.get(key2, 0) + h["count"]
        for f in data.get("fp64", []):
            key3 = (f["file"], f["line"], f["op"])
            fp64[key3] = fp64.get(key3, 0) + f["count"]
        for site in data.get("sites", []):
            key4 = (site["kind"], site["file"], site["line"])
            sites[key4] = sites.get(key4, 0) + site["count"]
        for module, sigs in data.get("model_inputs", {}).items():
            into = inputs.setdefault(module, {})
            for sig, n in sigs.items():
                into[sig] = into.get(sig, 0) + n
        for info in data.get("compile_calls", []):
            item = tuple(sorted(info.items()))
            if item not in compiles:
                compiles.append(item)
        notes.update(str(n).strip() for n in data.get("notes", {}))
    return {
        "versions": versions,
        "cuda_calls": tuple(CudaCall(f, ln, c, a, n) for (f, ln, c, a), n in sorted(cuda.items())),
        "host_syncs": tuple(
            sorted((HostSync(k, f, ln, n) for (k, f, ln), n in syncs.items()),
                   key=lambda h: (-h.count, h.file, h.line, h.kind))
        ),
        "fp64": tuple(
            sorted((Fp64Site(f, ln, op, n) for (f, ln, op), n in fp64.items()),
                   key=lambda s: (-s.count, s.file, s.line, s.op))
        ),
        "model_inputs": tuple(
            ModelInputs(m, tuple(sorted(s.items(), key=lambda kv: (-kv[1], kv[0]))))
            for m, s in sorted(inputs.items())
        ),
        "compile_calls": tuple(sorted(compiles)),
        "notes": tuple(sorted(notes)),
        "sites": tuple(sorted(sites)),  # (kind, file, line): the runner explains them (site_notes.py)
        "processes": len(processes),
        "processes_unfinished": unfinished,
        "exceptions": tuple(sorted(exceptions, key=lambda e: (e.is_command, e.rank is None, e.rank or 0, e.pid))),
        "events_collected": bool(processes),
    }
