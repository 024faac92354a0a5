"""Records files: folding the raw per-process lines, the versioned per-rank files, their schema,
and clear errors for files that cannot be used."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from compare_helpers import make_rank, make_run

from porttool.check.compare import records as rec
from porttool.check.compare.raw_lines import collect

REPO = Path(__file__).resolve().parents[3]


def schema() -> dict:
    return json.loads((REPO / "docs" / "records-schema.json").read_text(encoding="utf-8"))


def _line(**event: object) -> str:
    return json.dumps(event) + "\n"


def _raw_process(folder: Path, pid: int, rank: int | None, losses: list[float], root: str) -> None:
    lines = [_line(kind="process", format=1, pid=pid, ppid=1, argv=["train.py"], cwd=root, mode="mock",
                   torch="2.13", rank_env=None)]
    for i, v in enumerate(losses):
        lines.append(_line(kind="output", model="GPT", n=i, steps_before=i, backward_before=i, training=True,
                           rank=rank, tensors=[{"path": "[0]", "shape": [2, 3], "dtype": "float32",
                                                "mean": 0.1, "std": "nan", "max_abs": 1.0}]))
        lines.append(_line(kind="backward", n=i, steps_before=i, dtype="float32", shape=[], rank=rank,
                           site=f"{root}/train.py:9", value=v * 4, scale=4.0, loss=v))
        lines.append(_line(kind="step", n=i, optimizer=0, optimizer_class="AdamW", backward_before=i + 1,
                           grad_norm=1.5, grads=2, tensors=2, params=10, param_dtypes={"float32": 10},
                           lr=0.1, skipped=False, clip_norm=None, rng="abc", rank=rank))
    lines.append('{"kind": "step", "n": 9, "cut short by a ki')  # a kill mid-write
    (folder / f"p{pid}.jsonl").write_text("".join(lines), encoding="utf-8")


def _info(root: str, role: str = "port") -> rec.RunInfo:
    return rec.RunInfo(role, "mock", "mock", True, "as written", ("python", "train.py"), root, ".")


def test_collect_folds_processes_into_ranks(tmp_path: Path) -> None:
    root = str(tmp_path / "tree")
    _raw_process(tmp_path, 11, 1, [3.0, 2.0], root)
    _raw_process(tmp_path, 10, 0, [3.5, 2.5], root)
    (tmp_path / "p12.jsonl").write_text(_line(kind="process", pid=12, argv=["worker"]), encoding="utf-8")
    run = collect(tmp_path, _info(root))
    assert [r.rank for r in run.ranks] == [0, 1]
    r0 = run.rank(0)
    assert r0 is not None and r0.pid == 10
    assert [x.value for x in r0.losses] == [3.5, 2.5] and r0.losses[0].raw == 14.0
    assert r0.losses[0].site == "train.py:9"  # relative to the tree the run ran in
    assert len(r0.steps) == 2  # the line cut short is dropped
    assert r0.outputs[0].tensors[0].std != r0.outputs[0].tensors[0].std  # "nan" is a float nan


def test_two_processes_on_one_rank_are_noted(tmp_path: Path) -> None:
    _raw_process(tmp_path, 10, None, [3.0, 2.0, 1.0], "/r")
    _raw_process(tmp_path, 11, None, [3.0], "/r")
    run = collect(tmp_path, _info("/r"))
    assert len(run.ranks) == 1 and run.ranks[0].pid == 10
    assert run.notes and "pid 10" in run.notes[0] and "11" in run.notes[0]


def test_save_and_load_round_trip_and_match_the_schema(tmp_path: Path) -> None:
    logits = [(0.01, float("nan"), float("inf"))] * 3
    run = make_run("original", make_rank([3.0, 2.0, 1.0], logits=logits, autocast="bfloat16", scaler=True),
                   make_rank([3.1, 2.1, 1.1], rank=1))
    folder = rec.save(run, tmp_path)
    assert folder == tmp_path / "original" and sorted(p.name for p in folder.iterdir()) == ["rank0.json", "rank1.json"]
    validator = jsonschema.Draft202012Validator(schema())
    validator.check_schema(schema())
    for path in folder.iterdir():
        validator.validate(json.loads(path.read_text(encoding="utf-8")))
    (loaded,) = rec.load_dir(tmp_path)
    assert loaded.info == run.info
    assert loaded.ranks[0].losses == run.ranks[0].losses
    assert loaded.ranks[0].steps == run.ranks[0].steps
    assert loaded.ranks[0].autocast == run.ranks[0].autocast
    assert loaded.ranks[0].grad_scalers == run.ranks[0].grad_scalers
    t = loaded.ranks[0].outputs[0].tensors[0]
    assert t.mean == 0.01 and t.std != t.std and t.max_abs == float("inf")
    assert rec.load_dir(folder)[0].info == run.info  # a run's own folder loads too


def test_the_schema_rejects_an_undocumented_field(tmp_path: Path) -> None:
    folder = rec.save(make_run("port", make_rank([1.0])), tmp_path)
    data = json.loads((folder / "rank0.json").read_text(encoding="utf-8"))
    data["steps"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema()).validate(data)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(format="something"), "not a porttool records file"),
        (lambda d: d.update(format_version=99), "records format version 99"),
        (lambda d: d.pop("losses"), "missing key 'losses'"),
        (lambda d: d["run"].update(role="pilot"), "unknown run role 'pilot'"),
        (lambda d: d["steps"][0].update(grad_norm="lots"), "malformed records"),
        (lambda d: d.update(rank="zero"), "'rank' has the wrong type"),
    ],
)
def test_unusable_files_are_named_with_the_problem(tmp_path: Path, mutate, message) -> None:
    folder = rec.save(make_run("port", make_rank([1.0])), tmp_path)
    path = folder / "rank0.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    mutate(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(rec.RecordsError) as err:
        rec.load_dir(tmp_path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_not_json_and_empty_directories(tmp_path: Path) -> None:
    with pytest.raises(rec.RecordsError, match="no such records directory"):
        rec.load_dir(tmp_path / "missing")
    with pytest.raises(rec.RecordsError, match="no records"):
        rec.load_dir(tmp_path)
    (tmp_path / "port-mock").mkdir()
    (tmp_path / "port-mock" / "rank0.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(rec.RecordsError, match="not JSON"):
        rec.load_dir(tmp_path)


def test_a_run_that_recorded_nothing_keeps_its_description(tmp_path: Path) -> None:
    failed = rec.RunRecords(rec.RunInfo("original", "cpu redirect", "cpu-redirect", False, "as written",
                                        ("python", "x.py"), "/r", ".", exit_code=1, passed=False,
                                        failure="exit status 1"))
    rec.save(failed, tmp_path)
    (loaded,) = rec.load_dir(tmp_path)
    assert loaded.info.failure == "exit status 1" and loaded.ranks == ()
