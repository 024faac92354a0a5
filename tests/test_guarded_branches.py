"""A guard's fix is applied only when the branch it guards is ported too (issue 13, class 1).

Rewriting `if torch.cuda.is_available():` to `torch.accelerator.is_available()` makes the branch
run on the new device; a CUDA-only call left in it (`torch.cuda.get_device_capability()`) then
crashes where the original took its CPU path. Every guard-like fix uses the same analysis
(`porttool.scan.guarded_branches`): the scan reports the guard as manual, the rewrite declines it.
"""

from __future__ import annotations

import textwrap

import pytest

from porttool.model import FixStatus
from porttool.rewrite import run as rewrite_run
from porttool.scan.run import sites_in_text
from porttool.scan.verdicts import verdict


def port(src: str, registry, target: str = "neuron", unsafe: bool = True):
    return rewrite_run.port_text(textwrap.dedent(src), registry, target, unsafe=unsafe)


GUARDED = {
    "if-body": """
        import torch
        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability()
    """,
    "negated-else": """
        import torch
        if not torch.cuda.is_available():
            name = "cpu"
        else:
            name = torch.cuda.get_device_name(0)
    """,
    "early-exit": """
        import torch
        def describe():
            if not torch.cuda.is_available():
                return "cpu"
            return torch.cuda.get_device_properties(0).name
    """,
    "and-tail": """
        import torch
        bf16 = torch.cuda.is_available() and torch.cuda.get_device_capability()[0] >= 8
    """,
    "ternary": """
        import torch
        name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    """,
    "count-zero-else": """
        import torch
        if torch.cuda.device_count() == 0:
            name = "cpu"
        else:
            name = torch.cuda.get_device_name(0)
    """,
    "idiom-index": """
        import torch
        def flash():
            return torch.cuda.get_device_capability()[0] >= 8
        dev = f"cuda:{torch.cuda.get_device_capability()[0]}" if torch.cuda.is_available() else "cpu"
    """,
}


@pytest.mark.parametrize("target", ["neuron", "portable"])
@pytest.mark.parametrize("case", sorted(GUARDED))
def test_guard_of_cuda_only_code_is_left_and_said_why(case, target, registry):
    source = textwrap.dedent(GUARDED[case])
    assert port(source, registry, target).text == source  # nothing else in these is fixable
    sites = sites_in_text(source, registry)
    guards = [(s, verdict(s, sites, registry, target)) for s in sites if s.code in ("PT101", "PT102", "PT004")]
    assert guards
    for site, judged in guards:
        assert judged is not None and judged.status is FixStatus.MANUAL, site
        assert judged.blocker is not None and judged.blocker.code == "PT110"
        assert "the branch it guards keeps CUDA-only code, PT110 on line" in judged.note


UNGUARDED = {
    # the CUDA-only call runs on the CPU path: rewriting the guard does not reach it
    "in-else": """
        import torch
        if torch.cuda.is_available():
            name = "gpu"
        else:
            name = torch.cuda.get_device_name(0)
    """,
    "after-if-without-exit": """
        import torch
        def describe():
            if not torch.cuda.is_available():
                print("cpu only")
            return torch.cuda.get_device_properties(0).name
    """,
    "or-tail": """
        import torch
        ok = torch.cuda.is_available() or torch.cuda.get_device_capability()[0] >= 8
    """,
}


@pytest.mark.parametrize("case", sorted(UNGUARDED))
def test_cuda_only_code_outside_the_branch_does_not_block(case, registry):
    result = port(UNGUARDED[case], registry, "neuron")
    assert "torch.accelerator.is_available()" in result.text, result.text


def test_guard_whose_branch_is_ported_is_ported_with_it(registry):
    result = port(
        """
        import torch
        def wait():
            if not torch.cuda.is_available():
                raise SystemExit("needs an accelerator")
            torch.cuda.synchronize()
        """,
        registry,
    )
    assert "if not torch.accelerator.is_available():" in result.text
    assert "    torch.accelerator.synchronize()" in result.text


def test_guard_of_unsafe_fix_is_held_back_with_it(registry):
    source = """
        import torch
        if torch.cuda.is_available():
            torch.cuda.set_device(0)
    """
    held = port(source, registry, "neuron", unsafe=False)
    assert "torch.cuda.is_available()" in held.text
    assert "torch.accelerator.is_available()" in port(source, registry, "neuron", unsafe=True).text


def test_rewrite_summary_says_which_guards_were_kept(tmp_path, run_cli):
    (tmp_path / "m.py").write_text("import torch\nif torch.cuda.is_available():\n    cap = torch.cuda.get_device_capability()\n")
    code, out, err = run_cli("rewrite", "--target", "neuron", str(tmp_path / "m.py"))
    assert "left for a human (manual): 2 (PT101×1, PT110×1)" in err
    assert "    of which guards left testing for CUDA: 1 (PT101×1); the code each guards is still CUDA-only" in err
