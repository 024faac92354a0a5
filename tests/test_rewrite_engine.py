"""The rewrite engine's guarantees, independent of any one rule's examples."""

from __future__ import annotations

import textwrap

from porttool.rewrite import run as rewrite_run


def port(src: str, registry, target="neuron", **kw):
    return rewrite_run.port_text(textwrap.dedent(src), registry, target, unsafe=kw.pop("unsafe", True), **kw)


def test_comments_and_formatting_are_kept(registry):
    src = """\
    import torch  # the framework


    def step(x):
        # wait for the device
        torch.cuda.synchronize(  # barrier
        )
        return x
    """
    out = port(src, registry.select(["PT105"])).text
    assert "# the framework" in out and "# wait for the device" in out and "# barrier" in out
    assert "torch.accelerator.synchronize(" in out
    assert out.count("\n") == textwrap.dedent(src).count("\n")


def test_torch_alias_is_reused(registry):
    out = port("import torch as th\nth.cuda.synchronize()\n", registry.select(["PT105"])).text
    assert out == "import torch as th\nth.accelerator.synchronize()\n"


def test_nothing_to_do_returns_same_text(registry):
    src = "import torch\nx = torch.ones(2)\n"
    result = port(src, registry)
    assert result.text == src and not result.applied


def test_second_pass_is_noop_on_mixed_file(registry):
    src = """\
    import torch
    from torch import cuda

    model = torch.nn.Linear(2, 2).cuda()
    cuda.synchronize()
    """
    for target in ("neuron", "portable", "neuron-xla"):
        first = port(src, registry, target)
        assert not first.rejected, first.rejected
        compile(first.text, "<port>", "exec")
        second = rewrite_run.port_text(first.text, registry, target, unsafe=True)
        assert second.text == first.text


def test_mark_unfixed_is_idempotent(registry):
    src = "import torch\ng = torch.cuda.CUDAGraph()\n"
    assert registry.by_code["PT113"].fix_for("neuron").action.value == "manual"  # CUDA graphs
    first = port(src, registry, mark_unfixed=True).text
    assert "# porttool: TODO(PT113)" in first
    second = rewrite_run.port_text(first, registry, "neuron", unsafe=True, mark_unfixed=True).text
    assert second == first
