"""The numeric records of one run: versioned files, one per rank (``porttool check --compare``).

The injected ``porttool_records`` appends raw JSON lines per process while the command runs;
``raw_lines.collect`` folds them into one ``RankRecords`` per rank; ``save``/``load`` write and read a
*records directory*, so a reference made on one machine compares against a port run made on
another (``porttool compare A B``).

A records directory holds one folder per run (``original``, ``original-high-precision``,
``port-mock``, ...) with one file per rank, ``rank<R>.json``::

    {"format": "porttool-records", "format_version": 1,
     "run": {role, label, backend, simulated, precision, command, versions, host, exit_code, ...},
     "rank": 0, "process": {pid, argv},
     "losses": [{n, step, value, raw, scale, dtype, site}],          # each backward()
     "steps": [{n, optimizer, grad_norm, clip_norm, params, tensors, grads, param_dtypes, lr,
                skipped, rng}],                                        # each optimizer step
     "outputs": [{model, n, step, training, tensors: [{path, shape, dtype, mean, std, max_abs}]}],
     "autocast": [...], "grad_scalers": [...], "settings": {...}, "modules": [...], "notes": [...]}

Each file stands alone (it repeats the run's description).  Non-finite floats are the strings
``"nan"``, ``"inf"``, ``"-inf"``.  Sites (``file:line``) are relative to the tree the run ran in, so
the original's and the port's compare.  ``docs/records-schema.json`` is the schema.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

FORMAT = "porttool-records"
FORMAT_VERSION = 1
ROLES = ("original", "original-high-precision", "port")


class RecordsError(Exception):
    """A records file or directory that cannot be used (names the path and the problem)."""


@dataclass(frozen=True)
class Loss:
    n: int
    step: int  # optimizer steps recorded before this backward()
    value: float | None  # the loss: the scalar passed to backward(), divided by GradScaler's scale
    raw: float | None  # the scalar passed to backward() as it was
    scale: float | None
    dtype: str
    site: str | None


@dataclass(frozen=True)
class Step:
    n: int
    optimizer: int
    grad_norm: float
    clip_norm: float | None  # what clip_grad_norm_ returned in this step (the pre-clip norm)
    params: int
    tensors: int
    grads: int
    param_dtypes: tuple[tuple[str, int], ...]
    lr: float | None
    skipped: bool  # GradScaler found inf/nan gradients and skipped optimizer.step()
    rng: str | None  # digest of the CPU generator's state after the step


@dataclass(frozen=True)
class TensorDigest:
    path: str
    shape: tuple[int, ...]
    dtype: str
    mean: float | None
    std: float | None
    max_abs: float | None


@dataclass(frozen=True)
class Output:
    model: str
    n: int
    step: int
    training: bool
    tensors: tuple[TensorDigest, ...]


@dataclass(frozen=True)
class Autocast:
    site: str | None
    device_type: str
    dtype: str
    enabled: bool
    requested_device_type: str
    requested_dtype: str
    requested_enabled: bool


@dataclass(frozen=True)
class ScalerUse:
    site: str | None
    device: str
    requested_device: str | None
    enabled: bool
    init_scale: float | None


@dataclass(frozen=True)
class RankRecords:
    rank: int
    pid: int
    argv: tuple[str, ...]
    losses: tuple[Loss, ...] = ()
    steps: tuple[Step, ...] = ()
    outputs: tuple[Output, ...] = ()
    autocast: tuple[Autocast, ...] = ()
    grad_scalers: tuple[ScalerUse, ...] = ()
    settings: tuple[tuple[str, Any], ...] = ()
    modules: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunInfo:
    role: str  # original | original-high-precision | port
    label: str  # "cpu redirect", "cuda", "mock", "cpu", "neuron", "xla"
    backend: str  # cpu-redirect | cuda | mock | cpu | neuron | xla
    simulated: bool
    precision: str  # "as written" | "high" (autocast off, TF32 off)
    command: tuple[str, ...]
    root: str  # the tree it ran in (sites are relative to it)
    cwd: str  # the command's directory, relative to root
    versions: tuple[tuple[str, str], ...] = ()
    host: str = ""
    exit_code: int | None = 0
    passed: bool = True
    failure: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The run's folder in a records directory."""
        return self.role if self.role != "port" else f"port-{self.label.replace(' ', '-')}"

    @property
    def rng_convention(self) -> str:
        """Where random numbers drawn "on the device" come from: on the CPU redirect, the mock and
        plain CPU from the CPU generator, so CPU generator states compare; on a real device from
        the device's own generator, so they compare only with another real device's run."""
        return "device" if self.backend in ("cuda", "neuron", "xla") else "cpu"


@dataclass(frozen=True)
class RunRecords:
    info: RunInfo
    ranks: tuple[RankRecords, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = ()

    def rank(self, r: int) -> RankRecords | None:
        for rank in self.ranks:
            if rank.rank == r:
                return rank
        return None


# -- floats --------------------------------------------------------------------------------------
def encode_float(value: float | None) -> Any:
    if value is None:
        return None
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def decode_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value in ("nan", "inf", "-inf"):
            return float(value)
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def digest_from(t: dict[str, Any]) -> TensorDigest:
    return TensorDigest(str(t["path"]), tuple(int(s) for s in t["shape"]), str(t["dtype"]),
                        decode_float(t.get("mean")), decode_float(t.get("std")),
                        decode_float(t.get("max_abs")))



# -- files ---------------------------------------------------------------------------------------
def _info_json(info: RunInfo) -> dict[str, Any]:
    return {"role": info.role, "label": info.label, "backend": info.backend,
            "simulated": info.simulated, "precision": info.precision,
            "command": list(info.command), "root": info.root, "cwd": info.cwd,
            "versions": dict(info.versions), "host": info.host, "exit_code": info.exit_code,
            "passed": info.passed, "failure": info.failure, "notes": list(info.notes)}


def rank_json(run: RunRecords, rank: RankRecords) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "run": _info_json(run.info),
        "rank": rank.rank,
        "process": {"pid": rank.pid, "argv": list(rank.argv)},
        "losses": [{"n": x.n, "step": x.step, "value": encode_float(x.value),
                    "raw": encode_float(x.raw), "scale": encode_float(x.scale), "dtype": x.dtype,
                    "site": x.site} for x in rank.losses],
        "steps": [{"n": s.n, "optimizer": s.optimizer, "grad_norm": encode_float(s.grad_norm),
                   "clip_norm": encode_float(s.clip_norm), "params": s.params,
                   "tensors": s.tensors, "grads": s.grads, "param_dtypes": dict(s.param_dtypes),
                   "lr": encode_float(s.lr), "skipped": s.skipped, "rng": s.rng}
                  for s in rank.steps],
        "outputs": [{"model": o.model, "n": o.n, "step": o.step, "training": o.training,
                     "tensors": [{"path": t.path, "shape": list(t.shape), "dtype": t.dtype,
                                  "mean": encode_float(t.mean), "std": encode_float(t.std),
                                  "max_abs": encode_float(t.max_abs)} for t in o.tensors]}
                    for o in rank.outputs],
        "autocast": [vars_of(a) for a in rank.autocast],
        "grad_scalers": [vars_of(s) | {"init_scale": encode_float(s.init_scale)}
                         for s in rank.grad_scalers],
        "settings": dict(rank.settings),
        "modules": list(rank.modules),
        "notes": list(rank.notes) + list(run.notes),
    }


def vars_of(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


def save(run: RunRecords, directory: Path) -> Path:
    """Write ``run`` into ``directory/<run name>/rank<R>.json``; return that folder."""
    folder = directory / run.info.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("rank*.json"):
        old.unlink()
    for rank in run.ranks:
        path = folder / f"rank{rank.rank}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(rank_json(run, rank), indent=1, sort_keys=True) + "\n",
                       encoding="utf-8")
        os.replace(tmp, path)
    if not run.ranks:  # keep the run's description (it failed before recording anything)
        (folder / "run.json").write_text(json.dumps(_info_json(run.info), indent=1) + "\n",
                                         encoding="utf-8")
    return folder


def _need(data: dict[str, Any], key: str, kind: type | tuple[type, ...], path: Path) -> Any:
    if key not in data:
        raise RecordsError(f"{path}: missing key {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RecordsError(f"{path}: {key!r} has the wrong type ({type(value).__name__})")
    return value


def _info_from(data: dict[str, Any], path: Path) -> RunInfo:
    role = _need(data, "role", str, path)
    if role not in ROLES:
        raise RecordsError(f"{path}: unknown run role {role!r} (expected one of {', '.join(ROLES)})")
    return RunInfo(role, _need(data, "label", str, path), _need(data, "backend", str, path),
                   bool(data.get("simulated")), str(data.get("precision", "as written")),
                   tuple(data.get("command", ())), str(data.get("root", "")),
                   str(data.get("cwd", "")), tuple(sorted(dict(data.get("versions", {})).items())),
                   str(data.get("host", "")), data.get("exit_code"), bool(data.get("passed", True)),
                   data.get("failure"), tuple(data.get("notes", ())))


def load_rank(path: Path) -> tuple[RunInfo, RankRecords, tuple[str, ...]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecordsError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise RecordsError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RecordsError(f"{path}: not a porttool records file (no \"format\": \"{FORMAT}\")")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise RecordsError(f"{path}: records format version {version!r}; this porttool reads "
                           f"version {FORMAT_VERSION}")
    info = _info_from(_need(data, "run", dict, path), path)
    try:
        losses = tuple(Loss(int(x["n"]), int(x["step"]), decode_float(x["value"]),
                            decode_float(x.get("raw")), decode_float(x.get("scale")),
                            str(x.get("dtype", "")), x.get("site"))
                       for x in _need(data, "losses", list, path))
        steps = tuple(Step(int(s["n"]), int(s.get("optimizer", 0)),
                           decode_float(s["grad_norm"]) or 0.0, decode_float(s.get("clip_norm")),
                           int(s["params"]), int(s.get("tensors", 0)), int(s.get("grads", 0)),
                           tuple(sorted(dict(s.get("param_dtypes", {})).items())),
                           decode_float(s.get("lr")), bool(s.get("skipped")), s.get("rng"))
                      for s in _need(data, "steps", list, path))
        outputs = tuple(Output(str(o["model"]), int(o["n"]), int(o["step"]),
                               bool(o.get("training")), tuple(digest_from(t) for t in o["tensors"]))
                        for o in _need(data, "outputs", list, path))
        autocast = tuple(Autocast(**a) for a in data.get("autocast", []))
        scalers = tuple(ScalerUse(s.get("site"), str(s["device"]), s.get("requested_device"),
                                  bool(s["enabled"]), decode_float(s.get("init_scale")))
                        for s in data.get("grad_scalers", []))
        process = data.get("process", {})
        rank = RankRecords(_need(data, "rank", int, path), int(process.get("pid", 0)),
                           tuple(process.get("argv", ())), losses, steps, outputs, autocast, scalers,
                           tuple(sorted(dict(data.get("settings", {})).items())),
                           tuple(data.get("modules", ())), tuple(data.get("notes", ())))
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordsError(f"{path}: malformed records ({exc!r})") from exc
    return info, rank, tuple(data.get("notes", ()))


def load_run(folder: Path) -> RunRecords:
    """One run's folder (``rank*.json``, or ``run.json`` for a run that recorded nothing)."""
    files = sorted(folder.glob("rank*.json"), key=lambda p: (len(p.name), p.name))
    if not files:
        description = folder / "run.json"
        if description.is_file():
            try:
                data = json.loads(description.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise RecordsError(f"{description}: unreadable ({exc})") from exc
            return RunRecords(_info_from(data, description))
        raise RecordsError(f"{folder}: no rank*.json records files")
    infos, ranks = [], []
    for path in files:
        info, rank, _ = load_rank(path)
        infos.append(info)
        ranks.append(rank)
    first = infos[0]
    for path, info in zip(files, infos):
        if (info.role, info.label) != (first.role, first.label):
            raise RecordsError(f"{path}: belongs to run {info.name!r}, its folder to {first.name!r}")
    if len({r.rank for r in ranks}) != len(ranks):
        raise RecordsError(f"{folder}: two files record the same rank")
    return RunRecords(replace(first), tuple(sorted(ranks, key=lambda r: r.rank)))


def load_dir(directory: Path) -> list[RunRecords]:
    """Every run in a records directory (or the one run when ``directory`` is a run's folder)."""
    if not directory.is_dir():
        raise RecordsError(f"{directory}: no such records directory")
    if any(directory.glob("rank*.json")) or (directory / "run.json").is_file():
        return [load_run(directory)]
    runs = [load_run(sub) for sub in sorted(directory.iterdir())
            if sub.is_dir() and (any(sub.glob("rank*.json")) or (sub / "run.json").is_file())]
    if not runs:
        raise RecordsError(f"{directory}: no records (expected run folders with rank*.json files)")
    return runs
