"""porttool's performance harness: one command, a table on stderr, JSON on disk.

    python benchmarks/run.py                  # torch corpus, synthetic 1k + 10k, TorchFix, mock
    python benchmarks/run.py --sizes 1000,10000,100000    # add the 100k-file scaling point
    python benchmarks/run.py --quick          # a tiny end-to-end run (what the smoke test does)

Every measured command runs in a fresh process; wall time, CPU time (user + system of the process
and every worker it waited for, from `os.wait4`) and peak RSS (the largest single process of the
tree) are recorded. Ratios are computed within one run, because these machines are noisy.

Corpora: (a) the Python sources of the installed torch package, copied to a temp dir; (b)
synthetic CUDA projects of N files (benchmarks/synthetic.py); (c) synthetic *library* corpora
(`--library-sizes`: long modules, two files in seven CUDA code, the rest mostly text that only
looks like a trigger, as in a large model library); (d) with `--large-repo PATH` (or
$PORTTOOL_BENCH_LARGE_REPO), a real repository you fetched (e.g. a clone of huggingface/diffusers:
2,089 files, 1.03 M lines), copied to a temp dir. Measures: the grep floor
(`grep -rlE 'cuda|nccl|cudnn'`, with how many files it picks), the files the scan parses (those
its prefilter lets through), cold scan (empty cache), warm scan (unchanged tree), scans with
`-j 1` and `-j 2` (no cache), `porttool rewrite` (diff only), a single-file scan as pre-commit
runs it (interpreter start-up included; median of N) with an import check, TorchFix 0.7.0 (in
its own venv, installed on first use) on a subset of the torch corpus, of the library corpus
and of the large repository (`--torchfix-every 20`: a 1-in-20 sample), each compared with porttool
on exactly that subset, a pre-commit scan of a changed 2,000-line file (median and min of N:
the min is the least disturbed by other work), and the CPU-mock overhead
(benchmarks/mock_overhead.py).

    PORTTOOL_BENCH_LARGE_REPO=/work/trials/diffusers python benchmarks/run.py --skip-torch \
        --sizes "" --library-sizes 2000 --torchfix-every 20 --skip-mock   # the large-repo shape

Nothing here is part of the test suite's pass/fail (tests/test_benchmarks_smoke.py only checks
that the harness runs).
"""

from __future__ import annotations

import argparse
import compileall
import filecmp
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from synthetic import file_text, generate

TORCHFIX = "torchfix==0.7.0"
GREP_PATTERN = "cuda|nccl|cudnn"
HEAVY_MODULES = ("torch", "libcst", "rich")


@dataclass
class Row:
    corpus: str
    measure: str
    files: int
    lines: int
    wall_s: float | None = None
    cpu_s: float | None = None
    peak_rss_mb: float | None = None
    exit_code: int | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def files_per_s(self) -> float | None:
        return round(self.files / self.wall_s, 1) if self.wall_s else None

    @property
    def lines_per_s(self) -> float | None:
        return round(self.lines / self.wall_s) if self.wall_s else None

    def as_json(self) -> dict:
        doc = asdict(self)
        doc.update(files_per_s=self.files_per_s, lines_per_s=self.lines_per_s)
        return doc


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    exit_code: int
    stderr: str


# A small launcher runs each command and reports its wall time and rusage (os.wait4: CPU of the
# command and every worker it reaped; ru_maxrss of its largest process). Spawning from this
# harness directly would not do: on Linux a child's ru_maxrss starts from the RSS of the process
# that spawned it, and the harness holds corpus listings.
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    out.write(f"{wall} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def measure(command: list[str], *, cwd: Path, env: dict[str, str], stdout: Path | None = None, timeout: float = 3600) -> Run:
    """Run `command` once in a fresh process; wall, CPU (incl. reaped children) and peak RSS."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115 - closed below
    err = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "usage"
        try:
            start = time.perf_counter()
            process = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER, str(result), *command], cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)  # the launcher, the command and its workers
                process.wait()
            wall = time.perf_counter() - start
            err.seek(0)
            text = err.read().decode("utf-8", "replace")
        finally:
            if stdout:
                out.close()  # type: ignore[union-attr]
            err.close()
        if not result.exists():  # killed: only the wall time is known
            return Run(wall, 0.0, 0.0, -9, text)
        inner_wall, cpu, rss_kb, code = result.read_text().split()
    return Run(float(inner_wall), float(cpu), int(rss_kb) / 1024, int(code), text)


def python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if p.is_file())


def count_lines(files: list[Path]) -> int:
    return sum(p.read_bytes().count(b"\n") for p in files)


def copy_files(files: list[Path], source: Path, dest: Path) -> None:
    for path in files:
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def snapshot(work: Path) -> Path:
    """A copy of porttool and its rules for every measured run: edits to the checkout while the
    harness runs must neither mix versions nor invalidate the cache between cold and warm runs."""
    src = work / "porttool-snapshot"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "porttool", src / "porttool", ignore=ignore, dirs_exist_ok=True)
    shutil.copytree(ROOT / "rules", src / "porttool" / "rules", ignore=ignore, dirs_exist_ok=True)
    # Byte-compiled as `pip install` leaves an installed package: otherwise, with
    # PYTHONDONTWRITEBYTECODE set (as on this machine), every measured run would compile
    # porttool's modules from source first (~35 ms of each single-file scan).
    compileall.compile_dir(src, quiet=1)
    return src


def torch_package_dir() -> Path | None:
    spec = importlib.util.find_spec("torch")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


class Harness:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rows: list[Row] = []
        self.started = time.time()
        self.load_at_start = list(os.getloadavg())  # other work on the machine inflates wall times
        self.notes: list[str] = []
        self.porttool = [sys.executable, "-m", "porttool"]
        script = Path(sys.executable).parent / "porttool"
        self.hook = [str(script)] if script.exists() else self.porttool  # what pre-commit runs
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PORTTOOL_")}
        self.env["PYTHONPATH"] = os.pathsep.join([str(snapshot(work)), *filter(None, [os.environ.get("PYTHONPATH")])])

    def log(self, message: str) -> None:
        sys.stderr.write(f"[bench] {message}\n")
        sys.stderr.flush()

    def add(self, corpus: str, name: str, files: int, lines: int, run: Run | None, note: str = "", **extra: object) -> Row:
        row = Row(corpus, name, files, lines, note=note, extra=dict(extra))
        if run is not None:
            row.wall_s, row.cpu_s, row.peak_rss_mb, row.exit_code = round(run.wall_s, 3), round(run.cpu_s, 3), round(run.peak_rss_mb, 1), run.exit_code
            if run.exit_code not in (0, 1):
                row.note = (row.note + " " if row.note else "") + f"FAILED: {run.stderr.strip()[-300:]}"
        self.rows.append(row)
        self.log(f"{corpus:>14} {name:<24} wall {row.wall_s}s cpu {row.cpu_s}s rss {row.peak_rss_mb}MB {row.note}")
        write_document(self, complete=False)  # an interrupted run still leaves its numbers
        return row

    # corpora -------------------------------------------------------------------------------------
    def corpora(self) -> list[tuple[str, Path]]:
        found: list[tuple[str, Path]] = []
        if not self.args.skip_torch:
            package = torch_package_dir()
            if package is None:
                self.notes.append("torch is not installed: no torch-package corpus")
            else:
                dest = self.work / "corpus-torch" / "torch"
                files = python_files(package)
                if self.args.torch_files:
                    files = files[: self.args.torch_files]
                copy_files(files, package, dest)
                found.append(("torch", dest))
        for size in self.args.sizes:
            dest = self.work / f"corpus-synthetic-{size}" / "project"
            generate(dest, size)
            found.append((f"synthetic-{size}", dest))
        for size in self.args.library_sizes:
            dest = self.work / f"corpus-library-{size}" / "library"
            generate(dest, size, "library")
            found.append((f"library-{size}", dest))
        if self.args.large_repo is not None:
            source = self.args.large_repo.resolve()
            dest = self.work / "corpus-large" / source.name
            copy_files(python_files(source), source, dest)
            found.append((f"repo {source.name}", dest))
        return found

    # measures ------------------------------------------------------------------------------------
    def corpus_measures(self, name: str, corpus: Path) -> None:
        files = python_files(corpus)
        lines = count_lines(files)
        cwd = corpus.parent
        rel = corpus.name
        env = dict(self.env, PORTTOOL_CACHE_DIR=str(self.work / f"cache-{name}"))
        grep = measure(["grep", "-rlE", GREP_PATTERN, rel], cwd=cwd, env=env, stdout=cwd / "grep.out")
        cuda_files = len((cwd / "grep.out").read_text(errors="replace").splitlines())
        self.add(name, "grep floor", len(files), lines, grep, f"{cuda_files} files spell cuda/nccl/cudnn", files_matching=cuda_files)
        self.files_parsed(name, corpus, len(files), lines, env)
        scan = [*self.porttool, "scan", rel, "-f", "json", "--exit-zero"]
        cold = measure([*scan, "-o", "cold.json"], cwd=cwd, env=env)
        self.add(name, "scan cold (cache empty)", len(files), lines, cold)
        warm = measure([*scan, "-o", "warm.json"], cwd=cwd, env=env)
        same = filecmp.cmp(cwd / "cold.json", cwd / "warm.json", shallow=False)  # streamed: reports can be 100s of MB
        self.add(name, "scan warm (unchanged)", len(files), lines, warm, "" if same else "REPORT DIFFERS FROM COLD", identical_to_cold=same)
        if name == "torch" or len(files) <= self.args.cores_limit:
            for jobs in (1, 2):
                run = measure([*scan, "--no-cache", "-j", str(jobs), "-o", f"j{jobs}.json"], cwd=cwd, env=env)
                self.add(name, f"scan -j {jobs} (no cache)", len(files), lines, run)
        else:
            self.notes.append(f"{name}: -j 1/-j 2 skipped above {self.args.cores_limit} files (--cores-limit)")

    def files_parsed(self, name: str, corpus: Path, files: int, lines: int, env: dict[str, str]) -> None:
        """How many of the corpus's Python files the scan parses: those its text prefilter lets
        through (counted by the measured porttool itself, in a process of its own)."""
        count = (
            "import sys; from pathlib import Path\n"
            "from porttool.ruleset.registry import load_registry\n"
            "from porttool.scan.rule_index import CompiledRules\n"
            "rules = CompiledRules.build(load_registry())\n"
            "paths = sorted(Path(sys.argv[1]).rglob('*.py'))\n"
            "print(sum(rules.may_match(p.read_text(encoding='utf-8', errors='replace')) for p in paths if p.is_file()))\n"
        )
        out = corpus.parent / "parsed.out"
        run = measure([sys.executable, "-c", count, str(corpus)], cwd=corpus.parent, env=env, stdout=out)
        text = out.read_text().strip()
        parsed = int(text) if text.isdigit() else None
        self.add(name, "files parsed (pass the prefilter)", files, lines, run, f"{parsed} of {files} files", files_parsed=parsed)

    def rewrite_measure(self, name: str, corpus: Path) -> None:
        files = python_files(corpus)
        if name != "torch" and len(files) > self.args.rewrite_limit:
            self.notes.append(f"{name}: rewrite skipped above {self.args.rewrite_limit} files (--rewrite-limit)")
            return
        cwd, env = corpus.parent, dict(self.env, PORTTOOL_CACHE_DIR=str(self.work / f"cache-{name}"))
        timeout = self.args.rewrite_timeout
        run = measure([*self.porttool, "rewrite", corpus.name], cwd=cwd, env=env, stdout=cwd / "rewrite.diff", timeout=timeout)
        if run.wall_s >= timeout:
            self.add(name, "rewrite (diff only)", len(files), count_lines(files), None, f"did not finish in {timeout:.0f} s (killed)", timed_out=True)
            return
        diff_lines = (cwd / "rewrite.diff").read_bytes().count(b"\n")
        self.add(name, "rewrite (diff only)", len(files), count_lines(files), run, f"{diff_lines} diff lines", diff_lines=diff_lines)

    def single_file(self) -> None:
        folder = self.work / "single"
        folder.mkdir(exist_ok=True)
        (folder / "train.py").write_text(file_text(0))  # a CUDA training script: findings to report
        env = dict(self.env, PORTTOOL_CACHE_DIR=str(self.work / "cache-single"))
        command = [*self.hook, "scan", "--output-format", "concise", "train.py"]
        measure(command, cwd=folder, env=env)  # a first run fills the OS file cache and the porttool cache
        runs = [measure(command, cwd=folder, env=env) for _ in range(self.args.single_runs)]
        median = sorted(runs, key=lambda r: r.wall_s)[len(runs) // 2]
        lines = (folder / "train.py").read_text().count("\n")
        self.add("single file", "pre-commit scan (median)", 1, lines, median, f"median of {len(runs)}; min {min(r.wall_s for r in runs):.3f}s", walls=[round(r.wall_s, 3) for r in runs])
        empty = folder / "empty"
        empty.mkdir(exist_ok=True)
        floor = [measure([*self.hook, "scan", "--output-format", "json", "-o", "empty.json", "empty"], cwd=folder, env=env) for _ in range(self.args.single_runs)]
        self.add("empty folder", "scan (fixed cost of a run)", 0, 0, sorted(floor, key=lambda r: r.cpu_s)[len(floor) // 2], f"median of {len(floor)}: start-up, imports, the rules")
        baseline = [measure([sys.executable, "-c", "pass"], cwd=folder, env=env) for _ in range(self.args.single_runs)]
        self.add("single file", "python start-up (median)", 0, 0, sorted(baseline, key=lambda r: r.wall_s)[len(baseline) // 2])
        imported = measure([sys.executable, "-X", "importtime", "-m", "porttool", "scan", "--output-format", "concise", "train.py"], cwd=folder, env=env)
        modules = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in imported.stderr.splitlines() if line.startswith("import time:")}
        heavy = sorted(m for m in HEAVY_MODULES if m in modules)
        self.add("single file", "modules imported", 1, lines, None, "heavy: " + (", ".join(heavy) or "none"), heavy_imports=heavy)

    def single_large_file(self) -> None:
        """A pre-commit run on a 2,000-line file that just changed: a cache miss every time (each
        run edits a comment), interpreter start-up and the rule-set cache included."""
        folder = self.work / "single-large"
        folder.mkdir(exist_ok=True)
        parts: list[str] = []
        i = 0
        while sum(p.count("\n") for p in parts) < 2000:
            parts.append(file_text(4 * i))
            i += 1
        text = "\n\n".join(parts)
        script = folder / "train.py"
        env = dict(self.env, PORTTOOL_CACHE_DIR=str(self.work / "cache-single-large"))
        command = [*self.hook, "scan", "--output-format", "concise", "train.py"]
        runs = []
        for n in range(self.args.single_runs + 1):
            script.write_text(text + f"\n# edit {n}\n")
            run = measure(command, cwd=folder, env=env)
            if n:  # (the first run fills the OS file cache and the rule-set cache)
                runs.append(run)
        median = sorted(runs, key=lambda r: r.wall_s)[len(runs) // 2]
        lines = script.read_text().count("\n")
        self.add("single file", "pre-commit scan, changed 2,000-line file (median)", 1, lines, median, f"median of {len(runs)}; min {min(r.wall_s for r in runs):.3f}s", walls=[round(r.wall_s, 3) for r in runs])
        fastest = min(runs, key=lambda r: r.wall_s)  # (the least disturbed by other work on the machine)
        self.add("single file", "pre-commit scan, changed 2,000-line file (min)", 1, lines, fastest, f"min of {len(runs)}; CPU min {min(r.cpu_s for r in runs):.3f}s", cpu_min=round(min(r.cpu_s for r in runs), 3))

    def torchfix(self, name: str, corpus: Path | None, size: int) -> None:
        """TorchFix and porttool (no cache) on the same evenly spread subset of a corpus."""
        if self.args.skip_torchfix:
            self.notes.append(f"TorchFix skipped on {name} (--skip-torchfix)")
            return
        if corpus is None:
            self.add(f"{name} subset", "TorchFix 0.7.0", 0, 0, None, f"no {name} corpus to compare on")
            return
        executable = self.torchfix_executable()
        everything = python_files(corpus)
        if self.args.torchfix_every:  # a 1-in-N sample of the whole corpus
            step = self.args.torchfix_every
            subset = everything[::step]
        else:
            step = max(1, len(everything) // size)
            subset = everything[::step][:size]
        dest = self.work / f"corpus-torchfix-{name.replace(' ', '-')}" / "subset"
        copy_files(subset, corpus, dest)
        lines = count_lines(subset)
        label = f"{name} subset ({len(subset)} of {len(everything)} files, every {step}th)"
        env = dict(self.env, PORTTOOL_CACHE_DIR=str(self.work / f"cache-torchfix-{name.replace(' ', '-')}"))
        ours = measure([*self.porttool, "scan", "subset", "--no-cache", "-f", "json", "-o", "porttool.json", "--exit-zero"], cwd=dest.parent, env=env)
        self.add(label, "porttool scan (no cache)", len(subset), lines, ours)
        if isinstance(executable, str):
            self.add(label, "TorchFix 0.7.0", len(subset), lines, None, f"not run: {executable}")
            return
        theirs = measure([str(executable), "--jobs", "2", "subset"], cwd=dest.parent, env=env, stdout=dest.parent / "torchfix.out", timeout=self.args.torchfix_timeout)
        ratio = f"; CPU {theirs.cpu_s / ours.cpu_s:.0f}x porttool's" if ours.cpu_s and theirs.cpu_s else ""
        self.add(label, "TorchFix 0.7.0", len(subset), lines, theirs, f"{len((dest.parent / 'torchfix.out').read_text().splitlines())} lines of output{ratio}")

    def torchfix_executable(self) -> Path | str:
        base = Path(os.environ.get("PORTTOOL_BENCH_CACHE") or (Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "porttool-bench"))
        venv = base / TORCHFIX.replace("==", "-")
        executable = venv / "bin" / "torchfix"
        if executable.exists():
            return executable
        self.log(f"installing {TORCHFIX} into {venv} (first run only)")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
            subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", TORCHFIX], check=True, capture_output=True, timeout=900)
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            return f"could not install {TORCHFIX}: {exc} {detail.decode('utf-8', 'replace')[-200:]}".strip()
        return executable if executable.exists() else f"{TORCHFIX} installed no torchfix command"

    def mock_overhead(self) -> None:
        if self.args.skip_mock:
            self.notes.append("mock overhead skipped (--skip-mock)")
            return
        if torch_package_dir() is None:
            self.add("mock device", "mock / plain CPU", 0, 0, None, "torch not installed")
            return
        out = self.work / "mock.json"
        steps = ["--steps", str(self.args.mock_steps), "--repeat", "3"]
        run = measure([sys.executable, str(HERE / "mock_overhead.py"), *steps, "--out", str(out)], cwd=self.work, env=self.env)
        if not out.exists():
            self.add("mock device", "mock / plain CPU", 0, 0, run, "mock_overhead.py failed")
            return
        doc = json.loads(out.read_text())
        self.add("mock device", "mock / plain CPU", 0, 0, None, f"{doc['model']} {doc['steps']} steps: cpu {doc['cpu_seconds']}s, mock {doc['mock_seconds']}s", **doc)


# targets -----------------------------------------------------------------------------------------


def find(rows: list[Row], corpus_prefix: str, measure_name: str) -> Row | None:
    for row in rows:
        if row.corpus.startswith(corpus_prefix) and row.measure == measure_name and row.cpu_s is not None:
            return row
    return None


def targets(rows: list[Row], sizes: list[int]) -> list[dict]:
    out: list[dict] = []

    def check(name: str, value: float | None, limit: float, better: str, unit: str = "") -> None:
        met = None if value is None else (value <= limit if better == "<=" else value >= limit)
        out.append({"target": name, "value": None if value is None else round(value, 3), "limit": f"{better} {limit}{unit}", "met": met})

    compared = sorted({r.corpus for r in rows if r.measure == "TorchFix 0.7.0"})
    for corpus in compared or ["torch subset"]:
        ours, theirs = find(rows, corpus, "porttool scan (no cache)"), find(rows, corpus, "TorchFix 0.7.0")
        check(f"scan CPU: TorchFix / porttool, {corpus.split(' (')[0]}", theirs.cpu_s / ours.cpu_s if ours and theirs else None, 100, ">=", "x")
    single = find(rows, "single file", "pre-commit scan (median)")
    check("single-file scan wall (start-up incl.)", single.wall_s if single else None, 0.3, "<=", " s")
    large = find(rows, "single file", "pre-commit scan, changed 2,000-line file (min)") or find(rows, "single file", "pre-commit scan, changed 2,000-line file (median)")
    check("pre-commit scan of a changed 2,000-line file, wall (min)", large.wall_s if large else None, 0.15, "<=", " s")
    if large is not None and "cpu_min" in large.extra:
        check("pre-commit scan of a changed 2,000-line file, CPU (min)", large.extra["cpu_min"], 0.15, "<=", " s")
    imports = next((r for r in rows if r.measure == "modules imported"), None)
    out.append({"target": "single-file scan imports no torch/libcst/rich", "value": imports.extra["heavy_imports"] if imports else None, "limit": "none", "met": None if imports is None else not imports.extra["heavy_imports"]})
    for corpus in ["torch", *[f"synthetic-{s}" for s in sizes], *sorted({r.corpus for r in rows if r.corpus.startswith(("library-", "repo "))})]:
        cold, warm = find(rows, corpus, "scan cold (cache empty)"), find(rows, corpus, "scan warm (unchanged)")
        if cold and warm and cold.corpus == corpus:
            check(f"{corpus}: warm / cold scan CPU", warm.cpu_s / cold.cpu_s, 0.1, "<=", "")
    cold, rewrite = find(rows, "torch", "scan cold (cache empty)"), find(rows, "torch", "rewrite (diff only)")
    if cold and rewrite and cold.corpus == "torch":
        check("torch: rewrite / cold scan CPU", rewrite.cpu_s / cold.cpu_s, 5, "<=", "x")
        check("torch: rewrite / cold scan wall", rewrite.wall_s / cold.wall_s if cold.wall_s else None, 5, "<=", "x")
    j1, j2 = find(rows, "torch", "scan -j 1 (no cache)"), find(rows, "torch", "scan -j 2 (no cache)")
    if j1 and j2 and j1.corpus == "torch":
        check("torch: -j 1 / -j 2 wall (2 cores)", j1.wall_s / j2.wall_s if j2.wall_s else None, 1.6, ">=", "x")
    points = [(s, find(rows, f"synthetic-{s}", "scan cold (cache empty)")) for s in sorted(sizes)]
    points = [(s, r) for s, r in points if r is not None and r.corpus == f"synthetic-{s}"]
    if len(points) >= 2:
        (s0, r0), (s1, r1) = points[0], points[-1]
        check(f"peak RSS {s1} / {s0} files (cold scan)", r1.peak_rss_mb / r0.peak_rss_mb if r0.peak_rss_mb else None, 2.0, "<=", "x")
        per0, per1 = r0.cpu_s / s0, r1.cpu_s / s1
        check(f"CPU per file {s1} / {s0} files (linear = 1)", per1 / per0 if per0 else None, 1.25, "<=", "x")
    mock = next((r for r in rows if r.corpus == "mock device" and "ratio" in r.extra), None)
    check("mock run / plain CPU run", mock.extra["ratio"] if mock else None, 3, "<=", "x")
    return out


def render(rows: list[Row], goals: list[dict], notes: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=False, width=180)
    table = Table(title="porttool benchmarks (one run; ratios within it)")
    for column in ("corpus", "measure", "files", "lines", "wall s", "CPU s", "peak RSS MB", "files/s", "lines/s", "note"):
        table.add_column(column, justify="right" if column not in ("corpus", "measure", "note") else "left", overflow="fold")
    for r in rows:
        def fmt(v: object) -> str:
            return "" if v is None else (f"{v:,}" if isinstance(v, int) else str(v))
        table.add_row(r.corpus, r.measure, fmt(r.files), fmt(r.lines), fmt(r.wall_s), fmt(r.cpu_s), fmt(r.peak_rss_mb), fmt(r.files_per_s), fmt(r.lines_per_s), r.note)
    console.print(table)
    goal_table = Table(title="targets")
    for column in ("target", "value", "limit", "met"):
        goal_table.add_column(column)
    for g in goals:
        goal_table.add_row(g["target"], str(g["value"]), g["limit"], {True: "yes", False: "NO", None: "not measured"}[g["met"]])
    console.print(goal_table)
    for note in notes:
        console.print(f"note: {note}")


def write_document(harness: Harness, *, complete: bool) -> list[dict]:
    from porttool import __version__

    args = harness.args
    goals = targets(harness.rows, args.sizes)
    doc = {
        "schema_version": 1,
        "complete": complete,
        "porttool_version": __version__,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(), "load_average_at_start": harness.load_at_start, "load_average_now": list(os.getloadavg())},
        "command": " ".join(["python", "benchmarks/run.py", *args.argv]),
        "seconds": round(time.time() - harness.started, 1),
        "rows": [r.as_json() for r in harness.rows],
        "targets": goals,
        "notes": harness.notes,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    return goals


def markdown(doc: dict) -> str:
    """The README's tables from a results file (`--markdown FILE`), so the numbers are copied exactly."""
    lines = ["| corpus | measure | files | lines | wall s | CPU s | peak RSS MB | lines/s (wall) | note |", "|---|---|--:|--:|--:|--:|--:|--:|---|"]
    for r in doc["rows"]:
        cells = [r["corpus"], r["measure"], f"{r['files']:,}", f"{r['lines']:,}", r["wall_s"], r["cpu_s"], r["peak_rss_mb"], f"{r['lines_per_s']:,}" if r["lines_per_s"] else "", r["note"].replace("|", "/")]
        lines.append("| " + " | ".join("" if c is None else str(c) for c in cells) + " |")
    lines += ["", "| target | value | limit | met |", "|---|--:|---|---|"]
    for t in doc["targets"]:
        lines.append(f"| {t['target']} | {t['value']} | {t['limit']} | {({True: 'yes', False: '**no**', None: 'not measured'})[t['met']]} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="synthetic corpus sizes in files (comma-separated; add 100000 for the full curve; empty: none)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json", help="where the JSON goes")
    parser.add_argument("--quick", action="store_true", help="tiny corpora, no torch corpus, TorchFix or mock (for the smoke test)")
    parser.add_argument("--skip-torch", action="store_true", help="no torch-package corpus")
    parser.add_argument("--torch-files", type=int, default=0, help="only the first N files of the torch package (0 = all)")
    parser.add_argument("--skip-torchfix", action="store_true")
    parser.add_argument("--torchfix-files", type=int, default=150, help="size of the subset of each corpus TorchFix and porttool both scan")
    parser.add_argument("--library-sizes", default="2000", help="synthetic library corpus sizes in files (comma-separated; empty: none)")
    parser.add_argument("--large-repo", type=Path, default=os.environ.get("PORTTOOL_BENCH_LARGE_REPO") or None, help="a real repository to measure as a corpus too (a clone you fetched; default: $PORTTOOL_BENCH_LARGE_REPO)")
    parser.add_argument("--torchfix-every", type=int, default=0, help="TorchFix and porttool on every Nth file of each corpus (e.g. 20) instead of --torchfix-files files")
    parser.add_argument("--torchfix-timeout", type=float, default=1800)
    parser.add_argument("--skip-mock", action="store_true")
    parser.add_argument("--mock-steps", type=int, default=300)
    parser.add_argument("--single-runs", type=int, default=11, help="runs of the single-file scan (the median is reported)")
    parser.add_argument("--rewrite-limit", type=int, default=2000, help="rewrite synthetic corpora up to this many files (the torch corpus always)")
    parser.add_argument("--rewrite-timeout", type=float, default=1800, help="seconds before a rewrite run is stopped and reported as unfinished")
    parser.add_argument("--cores-limit", type=int, default=20000, help="-j 1 / -j 2 scans on synthetic corpora up to this many files (the torch corpus always)")
    parser.add_argument("--keep", type=Path, help="keep the corpora and outputs in this folder")
    parser.add_argument("--markdown", type=Path, help="print the tables of an earlier results file as Markdown and exit")
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(markdown(json.loads(args.markdown.read_text())))
        return 0
    args.sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    args.library_sizes = [int(s) for s in str(args.library_sizes).split(",") if s.strip()]
    args.argv = list(argv if argv is not None else sys.argv[1:])
    if args.large_repo is not None:
        args.large_repo = Path(args.large_repo)
    if args.quick:
        args.sizes, args.skip_torch, args.skip_torchfix, args.skip_mock = [16], True, True, True
        args.library_sizes, args.large_repo = [14], None
        args.single_runs = 1
    work = args.keep or Path(tempfile.mkdtemp(prefix="porttool-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    harness = Harness(args, work)
    try:
        corpora = harness.corpora()
        torch_corpus = next((path for name, path in corpora if name == "torch"), None)
        for name, path in corpora:
            harness.corpus_measures(name, path)
        harness.single_file()
        harness.single_large_file()
        harness.torchfix("torch", torch_corpus, args.torchfix_files)
        for name, path in corpora:
            if name.startswith(("library-", "repo ")):
                harness.torchfix(name, path, args.torchfix_files)
        harness.mock_overhead()
        for name, path in corpora:  # last: the slowest measures
            harness.rewrite_measure(name, path)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    harness.notes.append(f"load average {load} at the end on {os.cpu_count()} cores (other work inflates wall times; CPU times are the steadier measure)")
    goals = write_document(harness, complete=True)
    render(harness.rows, goals, harness.notes)
    harness.log(f"wrote {args.out}")
    failed = [r for r in harness.rows if r.note.startswith("FAILED") or " FAILED:" in r.note]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
