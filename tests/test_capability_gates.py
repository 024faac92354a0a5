"""Capability gates are not device choices (issue 13, class 2).

A CUDA test whose answer switches on a CUDA-only feature (`fused=`, `pin_memory=`,
`torch._scaled_mm`, flash-attn, a TorchScript graph's device constants) stays a CUDA test: ported
to ask for the new device it would switch the feature on there. Real device choices in the same
file are still ported.
"""

from __future__ import annotations

import textwrap

import pytest

from porttool.model import FixStatus, TARGETS
from porttool.rewrite import run as rewrite_run
from porttool.scan.run import sites_in_text
from porttool.scan.verdicts import verdict

GATES = {
    "fused-through-names": """
        import inspect
        import torch
        def opt(model, device_type):
            fused_ok = "fused" in inspect.signature(torch.optim.AdamW).parameters
            use_fused = fused_ok and device_type == "cuda"
            extra = dict(fused=True) if use_fused else dict()
            return torch.optim.AdamW(model.parameters(), **extra)
    """,
    "fused-keyword": """
        import torch
        def opt(model, device):
            return torch.optim.AdamW(model.parameters(), fused=device.type == "cuda")
    """,
    "pin-memory-flag": """
        import torch
        def loader(ds, device):
            pin = device == "cuda"
            return torch.utils.data.DataLoader(ds, pin_memory=pin)
    """,
    "pin-memory-availability": """
        import torch
        def loader(ds):
            return torch.utils.data.DataLoader(ds, pin_memory=torch.cuda.is_available())
    """,
    "scaled-mm-after-early-exit": """
        import warnings
        import torch
        def mm(a, b, device_type):
            if device_type != "cuda":
                warnings.warn("FP8 requires CUDA")
                return a @ b
            return torch._scaled_mm(a, b, out_dtype=torch.bfloat16)
    """,
    "data-parallel-branch": """
        import torch
        def place(model, device):
            if device.type == "cuda" and torch.cuda.device_count() > 1:
                model = torch.nn.DataParallel(model)
            return model.to(device)
    """,
    "flash-attn-branch": """
        import torch
        from flash_attn import flash_attn_func
        def attend(q, k, v):
            if q.device.type == "cuda":
                return flash_attn_func(q, k, v)
            return torch.nn.functional.scaled_dot_product_attention(q, k, v)
    """,
    "branch-says-it-needs-cuda": """
        def setup(args, device_type, model):
            if args.fp8:
                if device_type != "cuda":
                    print("Warning: FP8 training requires CUDA, ignoring --fp8 flag")
                else:
                    from mylib.fp8 import convert_to_float8_training
                    convert_to_float8_training(model)
    """,
    "torchscript-graph-constants": """
        def patch(module, device_node):
            for node in module.graph.findAllNodes("prim::Constant"):
                if "value" in node.attributeNames() and str(node["value"]).startswith("cuda"):
                    node.copyAttributes(device_node)
    """,
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", sorted(GATES))
def test_gate_is_kept_and_reported(case, target, registry):
    source = textwrap.dedent(GATES[case])
    assert rewrite_run.port_text(source, registry, target, unsafe=True).text == source
    sites = sites_in_text(source, registry)
    gated = [s for s in sites if s.gate]
    assert gated, sites
    for site in gated:
        judged = verdict(site, sites, registry, target)
        assert judged is not None and judged.status is FixStatus.NONE
        assert "a capability gate" in judged.note and "left testing for CUDA" in judged.note


def test_device_choice_next_to_a_gate_is_ported(registry):
    source = textwrap.dedent("""
        import torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
        def loader(ds):
            return torch.utils.data.DataLoader(ds, pin_memory=device == "cuda")
        def place(x):
            if x.device.type == "cuda":
                return x
            return x.to(device)
    """)
    result = rewrite_run.port_text(source, registry, "neuron", unsafe=True)
    assert 'device = "neuron" if torch.accelerator.is_available() else "cpu"' in result.text  # the device: ported
    assert 'pin_memory=device == "cuda"' in result.text  # the gate: kept
    assert 'if x.device.type == "neuron":' in result.text


def test_rewrite_summary_counts_the_gates(tmp_path, run_cli):
    (tmp_path / "m.py").write_text('import torch\ndef f(ds, device):\n    return torch.utils.data.DataLoader(ds, pin_memory=device == "cuda")\n')
    code, out, err = run_cli("rewrite", "--target", "portable", str(tmp_path / "m.py"))
    assert "capability gates left testing for CUDA (a CUDA-only feature stays off): 1 (PT010×1)" in err


def test_a_device_requirement_is_not_a_gate(registry):
    """`raise ...("requires CUDA")` says which device the program needs: ported like any device test."""
    source = textwrap.dedent("""
        def check(device_type):
            if device_type != "cuda":
                raise SystemExit("this trainer requires CUDA")
    """)
    assert not [s for s in sites_in_text(source, registry) if s.gate]
    assert 'if device_type != "neuron":' in rewrite_run.port_text(source, registry, "neuron", unsafe=True).text
