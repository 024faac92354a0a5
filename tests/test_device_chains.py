"""Device-selection chains that lack the target get it (issue 13, class 3).

`"cuda" if torch.cuda.is_available() else "mps" if ... else "cpu"` and its `if/elif` and
`if ...: return` spellings dispatch per backend, but reach neither Neuron nor any other accelerator
they do not test for: the port would silently run on the CPU. PT011 gives them the target; PT012
makes the lists that check the chosen device (`assert d in [...]`, `choices=`) accept it.
"""

from __future__ import annotations

import textwrap

import pytest

from porttool.model import TARGETS
from porttool.rewrite import run as rewrite_run
from porttool.scan.run import sites_in_text

CHAINS = {
    "ternary": 'import torch\ndevice = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"\n',
    "ternary-devices": 'import torch\ndevice = torch.device("cuda") if torch.cuda.is_available() else torch.device("mps") if torch.mps.is_available() else torch.device("cpu")\n',
    "if-elif-assign": textwrap.dedent("""
        import torch
        def autodetect():
            if torch.cuda.is_available():
                device_type = "cuda"
            elif torch.backends.mps.is_available():
                device_type = "mps"
            else:
                device_type = "cpu"
            return device_type
    """),
    "if-elif-return": textwrap.dedent("""
        import torch
        def pick():
            if torch.cuda.is_available():
                return torch.device("cuda")
            elif torch.xpu.is_available():
                return torch.device("xpu")
            else:
                return torch.device("cpu")
    """),
    "default-then-if-elif": textwrap.dedent("""
        import torch
        device = "cpu"
        if torch.cuda.is_available():
            device = "cuda"
        elif hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
            device = "mps"
    """),
    "run-of-returns": textwrap.dedent("""
        import torch
        def pick():
            if torch.cuda.is_available():
                return "cuda"
            if torch.backends.mps.is_available():
                return "mps"
            return "cpu"
    """),
}


def chain_sites(source, registry):
    return [s for s in sites_in_text(source, registry) if s.code == "PT011"]


@pytest.mark.parametrize("case", sorted(CHAINS))
def test_chain_is_one_site(case, registry):
    sites = chain_sites(CHAINS[case], registry)
    assert len(sites) == 1 and not sites[0].in_dispatch


NOT_CHAINS = {
    "two-way-idiom (PT004's)": 'import torch\nd = "cuda" if torch.cuda.is_available() else "cpu"\n',
    "reaches the accelerator": 'import torch\nd = "neuron" if torch.accelerator.is_available() else "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"\n',
    "other tests": textwrap.dedent("""
        import torch
        def pick(args):
            if args.cpu:
                return "cpu"
            elif torch.cuda.is_available():
                return "cuda"
            else:
                return "cpu"
    """),
    "no CPU default before an open chain": textwrap.dedent("""
        import torch
        def pick(args):
            device = args.device
            if torch.cuda.is_available():
                device = "cuda"
            elif torch.backends.mps.is_available():
                device = "mps"
            return device
    """),
    "branches do more than choose": textwrap.dedent("""
        import torch
        if torch.cuda.is_available():
            device = "cuda"
            torch.backends.cudnn.benchmark = True
        elif torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    """),
}


@pytest.mark.parametrize("case", sorted(NOT_CHAINS))
def test_not_a_chain_lacking_the_target(case, registry):
    assert chain_sites(NOT_CHAINS[case], registry) == []


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", sorted(CHAINS))
def test_port_reaches_the_target_and_is_a_fixed_point(case, target, registry):
    result = rewrite_run.port_text(CHAINS[case], registry, target, unsafe=False)
    if target == "neuron-xla" and case == "run-of-returns":
        assert result.text == CHAINS[case] and result.declined  # left for a human, and said why
        return
    assert not result.rejected and any(s.code == "PT011" for s in result.applied), result
    expected = {"neuron": 'current_accelerator().type == "neuron"', "portable": "DEVICE", "neuron-xla": "torch_xla.device()" if "devices" in case or "return" in case and "run" not in case else '"xla"'}[target]
    assert expected in result.text, result.text
    again = rewrite_run.port_text(result.text, registry, target, unsafe=False)
    assert again.text == result.text and not again.applied


@pytest.mark.parametrize("case", sorted(CHAINS))
def test_neuron_port_still_chooses_what_the_original_chose_elsewhere(case, registry):
    """On this CPU-only machine the new Neuron link is false: the chain picks the CPU as before."""
    ported = rewrite_run.port_text(CHAINS[case], registry, "neuron", unsafe=False).text
    for source in (CHAINS[case], ported):
        scope: dict[str, object] = {}
        exec(compile(source, "<port>", "exec"), scope)
        chosen = scope["device"] if "device" in scope else scope.get("autodetect", scope.get("pick"))()  # type: ignore[operator]
        assert str(chosen) == "cpu"


def test_device_lists_follow_the_chain(registry):
    source = textwrap.dedent("""
        import argparse
        import torch
        parser = argparse.ArgumentParser()
        parser.add_argument("--device", choices=["cuda", "mps", "cpu"])
        def check(device_type):
            assert device_type in ("cuda", "cpu"), device_type
            if device_type not in {'cuda', 'mps', 'cpu'}:
                raise ValueError(device_type)
    """)
    ported = rewrite_run.port_text(source, registry, "neuron", unsafe=False)
    assert 'choices=["cuda", "neuron", "mps", "cpu"]' in ported.text
    assert 'assert device_type in ("cuda", "neuron", "cpu"), device_type' in ported.text
    assert "if device_type not in {'cuda', 'neuron', 'mps', 'cpu'}:" in ported.text
    portable = rewrite_run.port_text(source, registry, "portable", unsafe=False)
    assert 'choices=["cuda", DEVICE.type, "mps", "cpu"]' in portable.text
    # the strings of such a list are the list's site, not PT003's (which would replace "cuda")
    assert not [s for s in sites_in_text(source, registry) if s.code == "PT003"]
