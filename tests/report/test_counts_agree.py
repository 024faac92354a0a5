"""Every count porttool shows about one tree agrees with every other (issue #17: a summary said
11 safe / 12 unsafe while the table said 13 / 10 for the same target).

On each sample and on the fixture tree, for each target:
- the text summary ("Found N findings", the safe / unsafe / manual / hint lines) equals the JSON
  summary (`findings`, `by_status`) and the findings themselves;
- the portability table's row of every target T, text and JSON, equals what `scan --target T`
  itself reports;
- the rewrite summary (text and JSON) accounts for exactly the scan's findings: without
  `--unsafe-fixes`, held back = unsafe, fixed + not fixable at this site = safe, left for a human
  = manual; with it, fixed + not fixable at this site = safe + unsafe.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TARGETS = ("neuron", "portable", "neuron-xla")
TREES = [p for p in sorted((REPO / "sample_models").iterdir()) if p.is_dir()] + [REPO / "tests" / "fixtures"]
ROW = re.compile(r"^\s+(?P<target>neuron-xla|neuron|portable)(?: \(selected\))?\s+(?P<n>(?:\d+\s+){5})[\d.]+%$")


def _summary_lines(text: str) -> dict[str, int]:
    found = re.search(r"^Found (\d+) findings? in", text, re.M)
    counts = {"findings": int(found.group(1)) if found else 0}
    for key, pattern in (
        ("safe", r"^\s+\[\*\]\s+(\d+) fixable with `porttool rewrite`$"),
        ("unsafe", r"^\s+\[!\]\s+(\d+) fixable with `porttool rewrite --unsafe-fixes`"),
        ("manual", r"^\s+(\d+) to port by hand"),
        ("none", r"^\s+(\d+) hints? \(nothing to fix\)$"),
    ):
        m = re.search(pattern, text, re.M)
        counts[key] = int(m.group(1)) if m else 0
    return counts


def _table(text: str) -> dict[str, dict[str, int]]:
    rows = {}
    for line in text.splitlines():
        m = ROW.match(line.rstrip())
        if m:
            rows[m.group("target")] = dict(zip(("sites", "safe", "unsafe", "manual", "hint"), map(int, m.group("n").split())))
    return rows


def _rewrite_text(err: str) -> dict[str, int]:
    counts = {}
    for key, label in (("fixed", "fixed"), ("held_back", "held back (unsafe; use --unsafe-fixes)"), ("manual", "left for a human (manual)"), ("declined", "not fixable at this site")):
        m = re.search(rf"^  {re.escape(label)}: (\d+)", err, re.M)
        counts[key] = int(m.group(1)) if m else 0
    return counts


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    work = tmp_path_factory.mktemp("trees")
    copies = {}
    for tree in TREES:
        copies[tree.name] = shutil.copytree(tree, work / tree.name, ignore=shutil.ignore_patterns("__pycache__", "*.diff"))
    return copies


@pytest.mark.parametrize("tree", [t.name for t in TREES])
def test_every_count_agrees(tree, trees, run_cli):
    root = trees[tree]
    own: dict[str, dict[str, int]] = {}
    tables: list[tuple[str, dict[str, dict[str, int]]]] = []
    for target in TARGETS:
        _, out, _ = run_cli("scan", ".", "--target", target, "-f", "json", "--no-cache", cwd=root)
        doc = json.loads(out)
        summary = doc["summary"]
        statuses = {s: sum(1 for f in doc["findings"] if f["fix"]["status"] == s) for s in ("safe", "unsafe", "manual", "none")}
        assert summary["findings"] == len(doc["findings"]) and summary["by_status"] == statuses, target
        assert sum(summary["by_severity"].values()) == summary["findings"]
        own[target] = {"sites": summary["findings"], "safe": statuses["safe"], "unsafe": statuses["unsafe"], "manual": statuses["manual"], "hint": statuses["none"]}
        tables.append((f"json --target {target}", {t: {k: v for k, v in row.items() if k != "score"} for t, row in summary["scores"].items()}))

        _, text, _ = run_cli("scan", ".", "--target", target, "--no-cache", cwd=root)
        assert _summary_lines(text) == {"findings": summary["findings"], **statuses}, f"{tree} --target {target}: text summary vs JSON"
        table = _table(text)
        if summary["findings"]:
            assert set(table) == set(TARGETS), text
        tables.append((f"text --target {target}", table))

        for unsafe in (False, True):
            args = ["rewrite", ".", "--target", target, "--jobs", "1"] + (["--unsafe-fixes"] if unsafe else [])
            _, rewritten, _ = run_cli(*args, "-f", "json", cwd=root)
            tally = {k: sum(v.values()) for k, v in json.loads(rewritten)["summary"].items()}
            _, _, err = run_cli(*args, cwd=root)
            assert _rewrite_text(err) == tally, f"{tree} {args}: rewrite text vs JSON\n{err}"
            assert tally["manual"] == statuses["manual"], f"{tree} {args}: {tally} vs scan {statuses}"
            if unsafe:
                assert tally["held_back"] == 0
                assert tally["fixed"] + tally["declined"] == statuses["safe"] + statuses["unsafe"], f"{tree} {args}: {tally} vs scan {statuses}"
            else:
                assert tally["held_back"] == statuses["unsafe"], f"{tree} {args}: {tally} vs scan {statuses}"
                assert tally["fixed"] + tally["declined"] == statuses["safe"], f"{tree} {args}: {tally} vs scan {statuses}"
    for where, table in tables:
        for target, row in table.items():
            assert row == own[target], f"{tree}: the {target} row of the table ({where}) says {row}; `scan --target {target}` reports {own[target]}"
