"""Folding the injected recorder's raw lines into records (``porttool check --compare``).

While the command runs, every process that records appends JSON lines to
``<dir>/<mode>/p<pid>.jsonl`` (``inject/porttool_records.py``).  ``collect`` reads them -- a line cut
short by a kill is dropped -- and makes one ``RankRecords`` per rank: the rank a process reported
most (``torch.distributed``, else ``RANK``, else 0).  Processes that recorded no ``backward()``, step
or model call (a launcher, a DataLoader worker) are left out; when two processes claim one rank,
the one with the most records is kept and the others are named in a note.  Sites become relative
to the tree the run ran in, so the original's and the port's compare.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from porttool.check.compare.records import (
    Autocast,
    Loss,
    Output,
    RankRecords,
    RecordsError,
    RunInfo,
    RunRecords,
    ScalerUse,
    Step,
    decode_float,
    digest_from,
)


def _relative(site: Any, root: str) -> str | None:
    if not isinstance(site, str):
        return None
    prefix = root.rstrip(os.sep) + os.sep
    if site.startswith(prefix):
        return site[len(prefix):]
    real = os.path.realpath(root).rstrip(os.sep) + os.sep
    return site[len(real):] if site.startswith(real) else site


def _read_lines(path: Path) -> list[dict[str, Any]]:
    events = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecordsError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if isinstance(event, dict):
            events.append(event)
    return events


def _process(events: list[dict[str, Any]], root: str) -> RankRecords | None:
    header = events[0] if events and events[0].get("kind") == "process" else {}
    ranks = Counter(e["rank"] for e in events if isinstance(e.get("rank"), int))
    env_rank = header.get("rank_env")
    rank = ranks.most_common(1)[0][0] if ranks else int(str(env_rank)) if str(env_rank).isdigit() else 0
    losses, steps, outputs, autocast, scalers, notes = [], [], [], [], [], []
    settings: dict[str, Any] = {}
    modules: list[str] = []
    for e in events:
        kind = e.get("kind")
        if kind == "backward":
            losses.append(Loss(int(e["n"]), int(e["steps_before"]), decode_float(e.get("loss")),
                               decode_float(e.get("value")), decode_float(e.get("scale")),
                               str(e.get("dtype")), _relative(e.get("site"), root)))
        elif kind == "step":
            steps.append(Step(int(e["n"]), int(e["optimizer"]), decode_float(e["grad_norm"]) or 0.0,
                              decode_float(e.get("clip_norm")), int(e["params"]), int(e["tensors"]),
                              int(e["grads"]), tuple(sorted(e.get("param_dtypes", {}).items())),
                              decode_float(e.get("lr")), bool(e.get("skipped")), e.get("rng")))
        elif kind == "output":
            outputs.append(Output(str(e["model"]), int(e["n"]), int(e["steps_before"]),
                                  bool(e.get("training")), tuple(digest_from(t) for t in e["tensors"])))
        elif kind == "autocast":
            autocast.append(Autocast(_relative(e.get("site"), root), str(e["device_type"]),
                                     str(e["dtype"]), bool(e["enabled"]),
                                     str(e["requested_device_type"]), str(e["requested_dtype"]),
                                     bool(e["requested_enabled"])))
        elif kind == "grad_scaler":
            scalers.append(ScalerUse(_relative(e.get("site"), root), str(e["device"]),
                                     e.get("requested_device"), bool(e["enabled"]),
                                     decode_float(e.get("init_scale"))))
        elif kind == "settings":
            settings = {k: v for k, v in e.items() if k not in ("kind", "rank")}
        elif kind == "modules":
            modules = [str(f) for f in e.get("files", [])]
            if e.get("dropped_events"):
                notes.append(f"{e['dropped_events']} events were not recorded (per-process limit)")
        elif kind == "note":
            notes.append(str(e.get("text")))
    if not (losses or steps or outputs):
        return None  # a process that computed nothing to compare (a launcher, a data worker)
    return RankRecords(rank, int(header.get("pid", 0)), tuple(header.get("argv", ())),
                       tuple(losses), tuple(steps), tuple(outputs), tuple(dict.fromkeys(autocast)),
                       tuple(dict.fromkeys(scalers)), tuple(sorted(settings.items())),
                       tuple(modules), tuple(notes))



def collect(raw_dir: Path, info: RunInfo) -> RunRecords:
    """Fold the raw per-process lines under ``raw_dir`` into per-rank records."""
    by_rank: dict[int, list[RankRecords]] = {}
    files = sorted(raw_dir.glob("p*.jsonl")) if raw_dir.is_dir() else []
    for path in files:
        try:
            records = _process(_read_lines(path), info.root)
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordsError(f"{path}: malformed record line ({exc!r})") from exc
        if records is not None:
            by_rank.setdefault(records.rank, []).append(records)
    ranks = []
    notes = []
    for rank, found in sorted(by_rank.items()):
        found.sort(key=lambda r: -(len(r.losses) + len(r.steps) + len(r.outputs)))
        ranks.append(found[0])
        if len(found) > 1:
            notes.append(f"rank {rank}: {len(found)} processes recorded values; the one with the "
                         f"most (pid {found[0].pid}) is compared, pids "
                         f"{', '.join(str(r.pid) for r in found[1:])} are not")
    return RunRecords(info, tuple(ranks), tuple(notes))
