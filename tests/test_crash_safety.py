"""Crash safety of `rewrite --apply`: SIGKILL it at random moments over a few hundred files.

After every kill each file must be wholly the original or wholly the port (never torn, never
empty), and the next run must leave no temporary file behind and finish the port.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

FILES = 200
ROUNDS = 4
TEMPLATES = (  # cheap to port, so a round takes about a second of CPU
    "import torch\nW_{i} = torch.zeros(4).cuda()\n",
    "import torch\n\n\ndef step_{i}(x):\n    torch.cuda.synchronize()\n    return x.cuda(non_blocking=True)\n",
)


def _make_tree(root: Path) -> None:
    for i in range(FILES):
        body = TEMPLATES[i % len(TEMPLATES)].format(i=i)
        padding = "".join(f"CONSTANT_{i}_{k} = {k}  # padding so writes take a moment\n" for k in range(20))
        path = root / f"pkg{i % 4}" / f"mod_{i:03d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body + padding)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.py"))}


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".porttool-tmp")]


def _start(porttool_cmd: list[str], root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*porttool_cmd, "rewrite", "--apply", "--allow-dirty", "--jobs", "1", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=root,
    )


def _wait_for_first_write(proc: subprocess.Popen[bytes], first: Path, before: bytes, limit: float) -> float | None:
    """Seconds until `first` (written first: files are written in sorted order) changes, or None."""
    start = time.monotonic()
    while time.monotonic() - start < limit and proc.poll() is None:
        try:
            if first.read_bytes() != before:
                return time.monotonic() - start
        except FileNotFoundError:  # between unlink and rename on some systems: keep polling
            pass
        time.sleep(0.002)
    return None


def test_sigkill_during_apply_never_leaves_a_torn_file(tmp_path, porttool_cmd):
    pristine = tmp_path / "pristine"
    _make_tree(pristine)
    original = _snapshot(pristine)
    first_name = min(original)

    # the expected port: one clean, uninterrupted run on a copy; also times its phases
    reference = tmp_path / "reference"
    shutil.copytree(pristine, reference)
    t0 = time.monotonic()
    proc = _start(porttool_cmd, reference)
    first_write = _wait_for_first_write(proc, reference / first_name, original[first_name], 120)
    _, err = proc.communicate(timeout=120)
    total = time.monotonic() - t0
    assert proc.returncode == 1, err.decode()  # files changed
    expected = _snapshot(reference)
    assert all(expected[name] != original[name] for name in original), "every file must need a port"
    assert not _temp_files(reference)
    assert first_write is not None
    write_phase = max(total - first_write, 0.05)

    rng = random.Random(20261125)
    outcomes = {"original": 0, "ported": 0}
    for round_no in range(ROUNDS):
        work = tmp_path / f"round{round_no}"
        shutil.copytree(pristine, work)
        proc = _start(porttool_cmd, work)
        if round_no % 3 == 0:  # anywhere in the run, scanning included
            time.sleep(rng.uniform(0, total))
        else:  # inside the write phase, where a torn file could happen
            _wait_for_first_write(proc, work / first_name, original[first_name], 120)
            time.sleep(rng.uniform(0, write_phase))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)

        after = _snapshot(work)
        assert set(after) == set(original), f"round {round_no}: files appeared or vanished"
        for name, data in after.items():
            assert data, f"round {round_no}: {name} is empty"
            assert data in (original[name], expected[name]), f"round {round_no}: {name} is torn"
            outcomes["original" if data == original[name] else "ported"] += 1
        for tmp in _temp_files(work):  # only ever a whole temp file beside its target
            assert tmp.name.startswith(".mod_") and tmp.parent != work

        if not _temp_files(work) and round_no != ROUNDS - 1:
            shutil.rmtree(work)
            continue
        # the next run removes any leftover temp file and finishes the port
        rerun = subprocess.run([*porttool_cmd, "rewrite", "--apply", "--allow-dirty", str(work)], cwd=work, capture_output=True, timeout=120, check=False)
        assert rerun.returncode in (0, 1), rerun.stderr.decode()
        assert not _temp_files(work), f"round {round_no}: temporary files left after the next run"
        assert _snapshot(work) == expected
        shutil.rmtree(work)
    # the kills really landed in the middle of writing: both kinds of file were seen
    assert outcomes["original"] and outcomes["ported"], outcomes


def test_stale_temp_files_are_removed_by_the_next_apply(tmp_path, porttool_cmd):
    root = tmp_path / "proj"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.py").write_text("import torch\nx = torch.ones(2).cuda()\n")
    stale = root / "sub" / ".a.py.k3j2x9.porttool-tmp"
    stale.write_text("import torch\nx = torch.ones(2).to(")  # what a kill mid-write leaves
    keep = root / "sub" / ".notes.tmp"
    keep.write_text("not ours")
    out = subprocess.run([*porttool_cmd, "rewrite", "--apply", "--allow-dirty", str(root)], cwd=root, capture_output=True, timeout=120, check=False)
    assert out.returncode == 1, out.stderr.decode()
    assert not stale.exists() and keep.exists()
    assert (root / "sub" / "a.py").read_text() == 'import torch\nx = torch.ones(2).to("neuron")\n'


def test_write_atomic_never_exposes_a_partial_file(tmp_path, monkeypatch):
    """An exception in the middle of writing (disk full) leaves the old file and no temp file."""
    from porttool import atomic_write

    target = tmp_path / "a.py"
    target.write_bytes(b"old\n")
    target.chmod(0o640)
    real_fsync = os.fsync

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_write.os, "fsync", full_disk)
    with pytest.raises(OSError):
        atomic_write.write_atomic(target, b"new\n" * 1000)
    monkeypatch.setattr(atomic_write.os, "fsync", real_fsync)
    assert target.read_bytes() == b"old\n" and not _temp_files(tmp_path)
    atomic_write.write_atomic(target, b"new\n")
    assert target.read_bytes() == b"new\n" and (target.stat().st_mode & 0o777) == 0o640


def test_stale_temp_files_are_removed_even_when_nothing_is_left_to_port(tmp_path, porttool_cmd):
    """An already-ported tree still gets the leftovers of an interrupted run cleaned up."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "a.py").write_text('import torch\nx = torch.ones(2).to("neuron")\n')
    stale = root / ".a.py.q8w1z2.porttool-tmp"
    stale.write_text("import torch\nx = tor")
    out = subprocess.run([*porttool_cmd, "rewrite", "--apply", "--allow-dirty", str(root)], cwd=root, capture_output=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr.decode()
    assert not stale.exists()


def _children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # field 4 of /proc/PID/stat: the parent's pid
            children.append(int(stat.parent.name))
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_end_when_porttool_is_killed(tmp_path, porttool_cmd):
    """SIGKILL leaves no orphaned worker processes behind (they watch their parent)."""
    work = tmp_path / "tree"
    _make_tree(work)
    proc = subprocess.Popen([*porttool_cmd, "rewrite", "-j", "2", str(work)], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        workers = [c for c in _children_of(proc.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")] if _alive(proc.pid) else []
        if len(workers) >= 2:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("porttool finished before its workers could be seen")
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert workers and not [w for w in workers if _alive(w)], "worker processes outlived porttool"


@pytest.mark.parametrize("fmt", ["json", "sarif", "text"])
def test_an_interrupted_scan_leaves_the_previous_report_file_whole(tmp_path, run_cli, monkeypatch, fmt):
    """`scan -o FILE` streams its report; a scan that dies part-way must not leave a torn FILE."""
    from porttool.report import stream as report_stream

    for i in range(3):
        (tmp_path / f"m{i}.py").write_text("import torch\nx = torch.zeros(1).cuda()\n")
    report = tmp_path / "report.out"
    report.write_text("the previous report\n")
    real_add = report_stream.ReportStream.add

    def add_then_die(self, result):  # type: ignore[no-untyped-def]
        real_add(self, result)
        if result.path.startswith("m1"):
            raise RuntimeError("killed part-way")  # (a crash, or Ctrl-C, in the middle of a scan)

    monkeypatch.setattr(report_stream.ReportStream, "add", add_then_die)
    with pytest.raises(RuntimeError, match="killed part-way"):
        run_cli("scan", ".", "--no-cache", "-f", fmt, "-o", str(report), cwd=tmp_path)
    assert report.read_text() == "the previous report\n"
    assert not list(tmp_path.glob(".*porttool-tmp"))
    monkeypatch.setattr(report_stream.ReportStream, "add", real_add)
    code, _, _ = run_cli("scan", ".", "--no-cache", "-f", fmt, "-o", str(report), cwd=tmp_path)
    assert code == 1 and "m2.py" in report.read_text()


def test_a_report_to_a_pipe_or_device_is_written_through_it(tmp_path, run_cli):
    """`-o /dev/null` or a FIFO must stay what it is: never replaced by a regular file."""
    import os
    import stat
    import threading

    (tmp_path / "m.py").write_text("import torch\nx = torch.zeros(1).cuda()\n")
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, _ = run_cli("scan", ".", "--no-cache", "-f", "json", "-o", str(fifo), cwd=tmp_path)
    reader.join(timeout=30)
    assert code == 1
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received and b'"PT' in received[0]
    assert not list(tmp_path.glob(".*porttool-tmp"))


def test_a_report_through_a_symlink_keeps_the_link(tmp_path, run_cli):
    (tmp_path / "m.py").write_text("import torch\nx = torch.zeros(1).cuda()\n")
    (tmp_path / "out").mkdir()
    real = tmp_path / "out" / "real.json"
    real.write_text("old\n")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    code, _, _ = run_cli("scan", "m.py", "--no-cache", "-f", "json", "-o", str(link), cwd=tmp_path)
    assert code == 1
    assert link.is_symlink() and '"PT' in real.read_text()
