"""The benchmark harness runs end to end on a tiny corpus (its numbers are never asserted: the
harness is not part of pass/fail; only that it measures, compares and writes its JSON)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_harness_runs_end_to_end(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--out", str(out)],
        check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    rows = {(r["corpus"], r["measure"]): r for r in doc["rows"]}
    for measure in ("grep floor", "scan cold (cache empty)", "scan warm (unchanged)", "scan -j 1 (no cache)", "scan -j 2 (no cache)", "rewrite (diff only)"):
        row = rows[("synthetic-16", measure)]
        assert row["files"] == 17 and row["lines"] > 500
        assert row["wall_s"] > 0 and row["cpu_s"] > 0 and row["peak_rss_mb"] > 0, row
        assert row["exit_code"] in (0, 1), row
    assert rows[("synthetic-16", "scan warm (unchanged)")]["extra"]["identical_to_cold"] is True
    parsed = rows[("synthetic-16", "files parsed (pass the prefilter)")]["extra"]["files_parsed"]
    assert 0 < parsed < 17  # (the CUDA files, not the plain ones)
    assert rows[("library-14", "files parsed (pass the prefilter)")]["extra"]["files_parsed"] < 14
    assert rows[("single file", "pre-commit scan, changed 2,000-line file (min)")]["wall_s"] > 0
    assert rows[("synthetic-16", "rewrite (diff only)")]["extra"]["diff_lines"] > 0
    assert rows[("single file", "modules imported")]["extra"]["heavy_imports"] == []
    targets = {t["target"]: t for t in doc["targets"]}
    assert targets["synthetic-16: warm / cold scan CPU"]["value"] > 0
    assert "porttool benchmarks" in proc.stdout  # the table
