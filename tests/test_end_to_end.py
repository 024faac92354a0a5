"""Every sample model, for every target, end to end: copy to a temp dir → `porttool scan` →
`porttool rewrite --apply` → re-scan → compare with the committed expected port → `porttool check`
(static, then the sample's documented run command on the CPU mock; `portable` also on plain CPU).

`neuron-xla` is checked statically only (no torch_xla here). The expected ports are unified
diffs under tests/fixtures/samples/<target>/<sample>.diff; refresh them with
`python -m pytest tests/test_end_to_end.py --update-fixtures` and review the change in git.
"""

from __future__ import annotations

import difflib
import json
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES_DIR = REPO / "sample_models"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "samples"
TARGETS = ("neuron", "portable", "neuron-xla")
RUN_TARGETS = ("neuron", "portable")
FIXTURE_TARGETS = ("neuron", "portable")


@dataclass(frozen=True)
class Sample:
    run: tuple[str, ...]  # the documented run command (see the sample's README), `python` first
    final_line: str  # how the last line of the run starts
    expected: frozenset[str]  # rule codes the scan must report (for `neuron`; other targets drop the codes they keep)
    unsafe: bool = True  # rewrite with --unsafe-fixes
    # edits a human makes after the rewrite, for the manual findings on the run path:
    # (file, old text, new text, targets where the old text is left after the rewrite)
    hand_ports: tuple[tuple[str, str, str, tuple[str, ...]], ...] = field(default=())


SAMPLES: dict[str, Sample] = {
    "gpt_trainer": Sample(
        run=("python", "train.py", "--steps", "8"),
        final_line="final loss ",
        hand_ports=(
            # bf16 support has no device-agnostic query (manual for `portable`): the human decides
            ("train.py", '"bfloat16" if torch.cuda.is_bf16_supported() else "float16"', '"bfloat16"', ("portable",)),
            # pinned host memory needs an accelerator that has it (manual for `portable`)
            ("train.py", "x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)", "x.to(device, non_blocking=True), y.to(device, non_blocking=True)", ("portable",)),
        ),
        expected=frozenset({"PT003", "PT005", "PT104", "PT105", "PT107", "PT109", "PT201", "PT202", "PT303", "PT304", "PT402", "PT501", "PT503", "PT507", "PT602", "PT802"}),
    ),
    "image_classifier": Sample(
        run=("python", "train.py", "--epochs", "1", "--steps", "6"),
        final_line="final accuracy ",
        hand_ports=(
            # pinned host memory needs an accelerator that has it; Neuron's is unconfirmed (PT401, PT402)
            ("train.py", "    val_images = val_images.pin_memory()\n", "", ("portable",)),
            ("train.py", "        pin_memory=True,\n", "        pin_memory=False,\n", ("portable",)),
        ),
        expected=frozenset({"PT001", "PT002", "PT004", "PT102", "PT104", "PT106", "PT107", "PT191", "PT201", "PT202", "PT301", "PT302", "PT401", "PT402", "PT504", "PT590", "PT802", "PT803", "PT805", "PT806"}),
    ),
    "inference_bench": Sample(
        run=("python", "bench.py", "--fp32", "--iters", "4", "--warmup", "1"),
        final_line="final checksum ",
        expected=frozenset({"PT003", "PT006", "PT103", "PT105", "PT106", "PT110", "PT111", "PT112", "PT113", "PT114", "PT115", "PT192", "PT203", "PT204", "PT505", "PT601", "PT603", "PT604"}),
        hand_ports=(
            # NVTX push/pop ranges have no Neuron counterpart: a human drops them (or uses record_function)
            ("bench.py", '        nvtx.range_push("h2d")\n', "", ("neuron", "portable")),
            ("bench.py", "        nvtx.range_pop()\n", "", ("neuron", "portable")),
            # describe_device() reads NVIDIA properties on every run: a human drops them
            ("bench.py", "    props = torch.cuda.get_device_properties(idx)\n", "", ("neuron", "portable")),
            ("bench.py", "    major, minor = torch.cuda.get_device_capability(idx)\n", "", ("neuron", "portable")),
            (
                "bench.py",
                ('    print(f"device {idx}: {torch.cuda.get_device_name(0)} (sm_{major}{minor}, "\n'
                '          f"{props.total_memory / 2**30:.1f} GiB, {props.multi_processor_count} SMs), "\n'
                '          f"torch {torch.__version__}, CUDA {torch.version.cuda}")\n'),
                '    print(f"device {idx}, torch {torch.__version__}")\n',
                ("neuron", "portable"),
            ),
        ),
    ),
    "diffusion_sampler": Sample(
        run=("python", "sample.py", "--train-steps", "4", "--diffusion-steps", "10", "--num-samples", "2"),
        final_line="final sample mean ",
        expected=frozenset({"PT002", "PT007", "PT008", "PT009", "PT011", "PT012", "PT100", "PT101", "PT104", "PT105", "PT107", "PT108", "PT203", "PT204", "PT013", "PT403", "PT404", "PT502", "PT506", "PT801"}),
        hand_ports=(
            # the CUDA generator state has no Neuron/accelerator counterpart here: replay the default generator's
            ("sample.py", "th.cuda.get_rng_state()", "th.random.get_rng_state()", ("neuron", "portable")),
            ("sample.py", "th.cuda.set_rng_state(rng_state)", "th.random.set_rng_state(rng_state)", ("neuron", "portable")),
            # a legacy type used as a dtype (PT100): say the dtype
            ("sample.py", ".type(th.cuda.HalfTensor)", ".to(th.float16)", ("neuron", "portable")),
        ),
    ),
    "cuda_extension": Sample(
        run=("python", "train.py", "--steps", "6"),
        final_line="final loss ",
        expected=frozenset({"PT004", "PT007", "PT101", "PT205", "PT206", "PT701", "PT702", "PT703", "PT704", "PT705", "PT706", "PT707", "PT708", "PT709", "PT710", "PT711", "PT712",
                            # the CUDA-only packages of requirements.txt and setup.py's extras_require
                            "PT750", "PT751", "PT753", "PT754", "PT755", "PT756", "PT757"}),
        unsafe=False,  # `x.is_cuda` gates the CUDA-only fast paths: kept, so every fallback runs
        hand_ports=(
            # the guard of the CUDA extension build stays a CUDA test (its code is CUDA-only, PT701):
            # a human drops that path on the new device
            ("fused_ops/gelu.py", "    if not torch.cuda.is_available():\n        return None\n", "    return None  # no build of the CUDA kernels for this device (PT701, PT702)\n", ("neuron", "portable")),
        ),
    ),
    "multi_backend": Sample(
        run=("python", "train.py", "--accelerator-api", "--debug", "--steps", "40"),
        final_line="final loss ",
        expected=frozenset({"PT001", "PT105"}),
    ),
    "notebook_demo": Sample(
        run=("python", "run_notebook.py", "train_demo.ipynb"),  # the code cells in order (no Jupyter kernel here)
        final_line="final accuracy ",
        expected=frozenset({"PT001", "PT003", "PT101", "PT105", "PT106", "PT802"}),
    ),
}

# what must not be reported: already-portable code in multi_backend (only debug.py has real leftovers)
FALSE_POSITIVE_GUARD = {"multi_backend": ("debug.py",)}

RUN_NOTEBOOK = """\
import json, sys
cells = json.load(open(sys.argv[1], encoding="utf-8"))["cells"]
source = "\\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
exec(compile(source, sys.argv[1], "exec"), {"__name__": "__main__"})
"""


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8", errors="surrogateescape")
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def tree_diff(before: dict[str, str], after: dict[str, str]) -> str:
    chunks = []
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name, ""), after.get(name, "")
        if a != b:
            chunks += difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True), f"a/{name}", f"b/{name}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in chunks)


def _keep_codes(registry, target: str) -> set[str]:
    return {r.code for r in registry if r.fix_for(target).action.value == "keep"}


def _scan(run_cli, cwd: Path, target: str) -> tuple[int, dict]:
    code, out, err = run_cli("scan", ".", "--target", target, "-f", "json", "--jobs", "1", cwd=cwd)
    assert code in (0, 1), err
    return code, json.loads(out)


def _fixable_left(run_cli, cwd: Path, target: str, statuses: set[str]) -> Counter[str]:
    _, report = _scan(run_cli, cwd, target)
    return Counter(f["code"] for f in report["findings"] if f["fix"]["status"] in statuses)


def _run_command(sample: Sample) -> list[str]:
    return [sys.executable if sample.run[0] == "python" else sample.run[0], *sample.run[1:]]


# Known porttool defects that fail a case, reported to the rule owners. Strict: once fixed, the case
# passes, and the entry must go (then refresh the fixture with --update-fixtures).
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}

CASES = [
    pytest.param(name, target, id=f"{name}-{target}", marks=[pytest.mark.xfail(strict=True, reason=KNOWN_DEFECTS[name, target])] if (name, target) in KNOWN_DEFECTS else [])
    for name in SAMPLES
    for target in TARGETS
]


@pytest.mark.parametrize("name, target", CASES)
def test_sample_end_to_end(name, target, tmp_path, run_cli, registry, update_fixtures):
    sample = SAMPLES[name]
    work = tmp_path / name
    shutil.copytree(SAMPLES_DIR / name, work, ignore=shutil.ignore_patterns("__pycache__"))
    original = _tree(work)

    # 1. scan: the expected rule codes are reported, and the scan fails (exit 1)
    code, report = _scan(run_cli, work, target)
    found = {f["code"] for f in report["findings"] if not f["in_dispatch"]}
    expected = set(sample.expected) - _keep_codes(registry, target)
    assert code == 1
    assert expected <= found, f"missing: {sorted(expected - found)}"
    if name in FALSE_POSITIVE_GUARD:
        flagged = {f["path"] for f in report["findings"] if f["fix"]["status"] != "none"}  # hints aside
        assert flagged <= set(FALSE_POSITIVE_GUARD[name]), f"already-portable code reported in {sorted(flagged)}"
    if name == "notebook_demo":
        assert all(f["cell"] is not None for f in report["findings"])

    # 2. rewrite --apply: files change (exit 1), no fix rejected by verification
    rewrite = ["rewrite", ".", "--target", target, "--apply", "--jobs", "1", "-f", "json"] + (["--unsafe-fixes"] if sample.unsafe else [])
    code, out, err = run_cli(*rewrite, cwd=work)
    assert code == 1, err
    summary = json.loads(out)["summary"]
    assert "PT906" not in err and "not applied" not in err, err
    ported = _tree(work)
    assert ported != original

    # 3. re-scan: nothing fixable is left (with the fixes the rewrite was allowed to make), except
    #    the sites the rewrite itself reported as not fixable there ("declined": left for a human)
    fixable = {"safe", "unsafe"} if sample.unsafe else {"safe"}
    assert _fixable_left(run_cli, work, target, fixable) == Counter(summary.get("declined", {}))

    # 4. the port is the expected one (committed fixture; `--update-fixtures` refreshes it)
    if target in FIXTURE_TARGETS:
        diff = tree_diff(original, ported)
        fixture = FIXTURES / target / f"{name}.diff"
        if update_fixtures:
            fixture.parent.mkdir(parents=True, exist_ok=True)
            fixture.write_text(diff, encoding="utf-8")
        assert fixture.is_file(), f"no expected port {fixture}; run pytest with --update-fixtures"
        assert diff == fixture.read_text(encoding="utf-8"), f"the port of {name} for {target} differs from {fixture.relative_to(REPO)}"

    if name == "notebook_demo":
        _assert_only_code_sources_changed(original["train_demo.ipynb"], ported["train_demo.ipynb"])

    # 5. a human ports what porttool reported as manual on the run path
    if target in RUN_TARGETS:
        for file, old, new, targets in sample.hand_ports:
            if target in targets:
                text = (work / file).read_text(encoding="utf-8")
                assert old in text, f"hand port of {file} no longer applies: {old!r}"
                (work / file).write_text(text.replace(old, new), encoding="utf-8")

    # ... and re-runs the rewrite, after which nothing fixable is left at all
    if target in RUN_TARGETS and (sample.hand_ports or summary.get("declined")):
        code, out, err = run_cli(*rewrite, cwd=work)
        assert code in (0, 1), err
        assert _fixable_left(run_cli, work, target, fixable) == Counter(), "fixable findings left after the hand ports"

    # 6. porttool check: the static stage passes
    static_args = ["check", ".", "--target", target, "-f", "json"] + ([] if sample.unsafe else ["--no-unsafe-fixes"])
    code, out, err = run_cli(*static_args, cwd=work)
    static = json.loads(out)["static"]
    assert code == 0 and static["passed"], static["problems"]
    if target not in RUN_TARGETS:
        return

    # 7. the documented run command passes on the CPU mock of the device (`portable`: first on a
    #    plain CPU with the CUDA tripwire, then on the mock)
    if name == "notebook_demo":
        (work / "run_notebook.py").write_text(RUN_NOTEBOOK, encoding="utf-8")
    code, out, err = run_cli("check", "--target", target, "--timeout", "300", "-f", "json", "--", *_run_command(sample), cwd=work)
    run = json.loads(out)["run"]
    assert code == 0 and run["passed"], "\n".join(
        f"{r['label']}: {r['failure_reason']} {r['cuda_calls']}\n{r['output_tail'][-1500:]}" for r in run["runs"] if not r["passed"]
    ) or run["reason"]
    assert [r["label"] for r in run["runs"]] == (["cpu", "mock"] if target == "portable" else ["mock"])
    for one in run["runs"]:
        assert one["passed"] and one["cuda_calls"] == []
        assert any(line.startswith(sample.final_line) for line in one["output_tail"].splitlines()), one["output_tail"][-2000:]


def _assert_only_code_sources_changed(before_text: str, after_text: str) -> None:
    """A notebook port changes code cells' `source` only: outputs, metadata, markdown untouched."""
    before, after = json.loads(before_text), json.loads(after_text)
    assert {k: v for k, v in before.items() if k != "cells"} == {k: v for k, v in after.items() if k != "cells"}
    assert len(before["cells"]) == len(after["cells"])
    changed = 0
    for old, new in zip(before["cells"], after["cells"]):
        if old["cell_type"] != "code":
            assert new == old
            continue
        assert {k: v for k, v in new.items() if k != "source"} == {k: v for k, v in old.items() if k != "source"}
        changed += new["source"] != old["source"]
    assert changed >= 2


def test_samples_cover_every_fixable_rule(registry):
    """The sample catalogue's claim (sample_models/README.md): together the samples exercise every
    construct porttool can fix, for some target. Computed from scan results, not from the table."""
    from porttool.scan import run as scan_run
    from porttool.scan.discovery import discover

    candidates = list(discover([SAMPLES_DIR], extra_suffixes=(".cu", ".cuh")))
    found: set[str] = set()
    for target in TARGETS:
        options = scan_run.ScanOptions(registry=registry, target=target, root=str(SAMPLES_DIR))
        found |= {f.code for r in scan_run.scan_paths(candidates, options, jobs=1) for f in r.findings}
    fixable = {r.code for r in registry if any(r.fix_for(t).status.value in ("safe", "unsafe") for t in TARGETS)}
    assert fixable - found == set(), "fixable rules no sample exercises"
    # and every expectation above is real: no sample expects a code porttool does not have
    assert set().union(*(s.expected for s in SAMPLES.values())) <= {r.code for r in registry}
