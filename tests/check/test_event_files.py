"""What a run reports when its processes end badly: killed at the timeout, or a worker raising."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from porttool.check.event_files import merge, replay
from porttool.check.runner import run_stage
from porttool.check.runtime_report import HostSync, render_text

SCRIPTS = Path(__file__).parent / "scripts"
PY = sys.executable


def journal(path: Path, *events: tuple[str, object, int]) -> None:
    path.write_text("".join(json.dumps({"t": t, "k": k, "c": c}) + "\n" for t, k, c in events))


def test_replay_keeps_the_latest_count_and_skips_a_line_cut_short(tmp_path: Path) -> None:
    lines = [json.dumps({"t": "process", "k": {"pid": 7, "rank": "1"}, "c": 1}),
             json.dumps({"t": "host_syncs", "k": ["item", "a.py", 3], "c": 1}),
             json.dumps({"t": "host_syncs", "k": ["item", "a.py", 3], "c": 2}),
             json.dumps({"t": "notes", "k": "old", "c": 1}),
             json.dumps({"t": "notes", "k": "old", "c": 0}),  # withdrawn
             json.dumps({"t": "model_inputs", "k": ["Net", "(2,):f32"], "c": 4}),
             '{"t": "fp64", "k": ["a.py", 4, "aten.mul"], "c']  # the kill came mid-write
    data = replay(lines, {"versions": {"torch": "2.x"}, "final": False,
                          "host_syncs": [{"kind": "item", "file": "a.py", "line": 3, "count": 1}],
                          "notes": {"old": 1}})
    assert data["final"] is False and data["pid"] == 7 and data["rank"] == "1"
    assert data["host_syncs"] == [{"kind": "item", "file": "a.py", "line": 3, "count": 2}]
    assert data["notes"] == {} and data["fp64"] == []
    assert data["model_inputs"] == {"Net": {"(2,):f32": 4}}
    assert data["versions"] == {"torch": "2.x"}


def test_a_final_snapshot_wins_and_a_killed_process_is_replayed(tmp_path: Path) -> None:
    sync = {"kind": "item", "file": "a.py", "line": 3}
    (tmp_path / "10.json").write_text(json.dumps({"final": True, "pid": 10, "versions": {"torch": "2.x"},
                                                  "host_syncs": [dict(sync, count=5)]}))
    journal(tmp_path / "10.events.jsonl", ("host_syncs", ["item", "a.py", 3], 4))  # older than the snapshot
    (tmp_path / "11.json").write_text(json.dumps({"final": False, "pid": 11, "versions": {"torch": "2.x"}}))
    journal(tmp_path / "11.events.jsonl", ("host_syncs", ["item", "a.py", 3], 2))
    journal(tmp_path / "12.events.jsonl", ("process", {"pid": 12, "rank": None}, 1),
            ("host_syncs", ["item", "a.py", 3], 1))
    merged = merge(tmp_path)
    assert (merged["processes"], merged["processes_unfinished"]) == (3, 2)
    assert merged["host_syncs"] == (HostSync("item", "a.py", 3, 8),)
    assert merged["events_collected"] is True


def test_events_before_a_timeout_kill_are_reported() -> None:
    # SIGTERM is ignored, so no exit handler writes anything: only what was journaled survives.
    result = run_stage([PY, "quiet_after_events.py"], target="neuron", backend="mock", timeout=8,
                       cwd=SCRIPTS, echo=False)
    (report,) = result.runs
    assert report.timed_out and "ready" in report.output_tail, report.output_tail
    script = str(SCRIPTS / "quiet_after_events.py")
    assert report.processes == 1 and report.processes_unfinished == 1 and report.events_collected
    assert report.host_syncs == (HostSync("item", script, 14, 3),)
    assert [(f.line, f.op, f.count) for f in report.fp64] == [(15, "aten.mul.Tensor", 1)]
    assert report.notes == ("a note",)
    text = render_text(result)
    assert "no runtime events" not in text and "1 process(es)" in text
    assert "1 process(es) ended without writing their final events (killed at the timeout)" in text
    assert f"{script}:14: item x3" in text


def test_a_torchrun_workers_traceback_is_reported() -> None:
    pytest.importorskip("torch")
    result = run_stage([PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        "rank1_raises.py"], target="neuron", backend="mock", timeout=180,
                       cwd=SCRIPTS, echo=False)
    (report,) = result.runs
    assert report.exit_code not in (0, None)
    assert "ChildFailedError" in report.output_tail  # what torchrun itself says
    worker = [e for e in report.worker_exceptions]
    assert [(e.rank, e.type, e.message) for e in worker] == [
        (1, "RuntimeError", "rank 1: shard file is missing")]
    assert f'File "{SCRIPTS / "rank1_raises.py"}", line 7, in load_shard' in worker[0].traceback
    assert result.reason is not None and "rank 1 (pid" in result.reason
    assert "raised RuntimeError: rank 1: shard file is missing" in result.reason
    text = render_text(result)
    assert "line 7, in load_shard" in text.split("output (tail):")[0]


def test_the_journal_thins_out_a_busy_site_and_replays_to_its_last_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from porttool.check.runner import INJECT_DIR

    monkeypatch.syspath_prepend(str(INJECT_DIR))
    monkeypatch.setenv("PORTTOOL_CHECK_REPORT_DIR", str(tmp_path))
    import porttool_events

    recorder = porttool_events.Recorder()
    frame = sys._getframe()
    for _ in range(3000):
        recorder.fp64_on_device("aten.mul.Tensor", frame)
    recorder.note("kept")
    (path,) = tmp_path.glob("*.events.jsonl")
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + 1024 + 1 + 1  # process, counts 1..1024, 2048, the note
    data = replay(lines)
    assert [f["count"] for f in data["fp64"]] == [2048] and data["notes"] == {"kept": 1}
    recorder.write(final=True)  # the exit snapshot has the exact count
    (report,) = merge(tmp_path)["fp64"]
    assert report.count == 3000
