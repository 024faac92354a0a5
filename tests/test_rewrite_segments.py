"""The rewrite's fast path (`partial_module.Skeleton`: libcst parses, positions and prints only the
statements that hold sites) must give exactly what the whole-module path gives.

Every test runs a rewrite both ways (`transform.SEGMENTED` on and off) and compares the whole result
(text, applied, held back, declined, rejected, markers), and checks which path the fast run
took, so that both the skeleton and its fallbacks to the whole module stay covered.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from porttool.rewrite import run as rewrite_run
from porttool.scan import run as scan_run
from porttool.rewrite import partial_module, transform, verification
from porttool.scan.discovery import Candidate

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("neuron", "portable", "neuron-xla")


class _Spy:
    """Which path the fast run took: skeletons built, stand-ins used, whole-module reruns."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.skeletons = self.nones = self.wholes = self.opaque = 0
        of, real_transform, reduced = partial_module.Skeleton.of.__func__, transform.transform, partial_module.reduce_runs

        def spy_of(cls, text, site_lines, *a, **kw):  # type: ignore[no-untyped-def]
            result = of(cls, text, site_lines, *a, **kw)
            if result is None:
                self.nones += 1
            else:
                self.skeletons += 1
                self.opaque += sum(isinstance(s, partial_module.Opaque) for s in result.module.body)
            return result

        def spy_transform(*a, whole=False, **kw):  # type: ignore[no-untyped-def]
            self.wholes += whole
            return real_transform(*a, whole=whole, **kw)

        def spy_reduced(*a, **kw):  # type: ignore[no-untyped-def]
            text = reduced(*a, **kw)
            self.opaque += text.count("__porttool_opaque_")
            return text

        monkeypatch.setattr(partial_module.Skeleton, "of", classmethod(spy_of))
        monkeypatch.setattr(transform, "transform", spy_transform)
        monkeypatch.setattr(partial_module, "reduce_runs", spy_reduced)


def _key(result: verification.RewriteResult) -> tuple:
    return (result.text, result.applied, result.held_back, result.declined, result.rejected, result.marked)


def both(src: str, registry, monkeypatch, target: str = "portable", *, unsafe: bool = True, mark_unfixed: bool = True, dedent: bool = True) -> tuple[verification.RewriteResult, _Spy]:
    """The fast result (asserted equal to the whole-module one) and what the fast run did."""
    text = textwrap.dedent(src) if dedent else src
    monkeypatch.setattr(transform, "SEGMENTED", False)
    whole = rewrite_run.port_text(text, registry, target, unsafe=unsafe, mark_unfixed=mark_unfixed)
    monkeypatch.setattr(transform, "SEGMENTED", True)
    spy = _Spy(monkeypatch)
    fast = rewrite_run.port_text(text, registry, target, unsafe=unsafe, mark_unfixed=mark_unfixed)
    monkeypatch.undo()
    assert _key(fast) == _key(whole)
    return fast, spy


CLASS_WITH_METHODS = """\
import os

import torch


class Trainer:
    \"\"\"Many methods; one holds a site.\"\"\"

    def __init__(self):
        self.steps = 0

    # a comment between methods
    def first(self):
        return self.steps

    @staticmethod
    def helper(x):
        # inside helper
        return x * 2

    def step(self, x):
        # the site is here
        x = x.cuda()
        torch.cuda.synchronize()
        return x

    def middle(self):
        return "cuda is only a word in a string here"

    def last(self):
        return None
"""


def test_site_in_a_method_among_many(registry, monkeypatch):
    for target in TARGETS:
        result, spy = both(CLASS_WITH_METHODS, registry, monkeypatch, target)
        assert result.applied and result.text != textwrap.dedent(CLASS_WITH_METHODS)
        assert spy.skeletons and not spy.nones and not spy.wholes
        assert spy.opaque, "the methods without sites should stay text"
        assert "# a comment between methods" in result.text and "# inside helper" in result.text


def test_module_level_edits_and_statement_boundaries(registry, monkeypatch):
    src = """\
    \"\"\"Docstring.\"\"\"
    # a header comment
    import os
    os.environ["X"] = "1"
    import torch
    from torch.cuda.amp import autocast


    # zero-column comment above a function
    @torch.no_grad()
    def run(model, x):
        with autocast():
            return model(x.cuda())
    a = 1; b = torch.device("cuda")
    if torch.cuda.is_available():
        pass
            # a deeper comment: no clean cut between these statements
    c = 2
    def tail():
        return torch.cuda.current_device()
    """
    for target in TARGETS:
        result, spy = both(src, registry, monkeypatch, target)
        assert result.applied
        assert spy.skeletons and not spy.nones and not spy.wholes
    result, _ = both(src, registry, monkeypatch, "portable")
    assert "DEVICE = " in result.text and result.text.index("import torch") < result.text.index("DEVICE = ")


def test_sites_in_first_and_last_statement_and_decorators(registry, monkeypatch):
    src = """\
    import torch; torch.backends.cudnn.benchmark = True
    x = 1


    @torch.cuda.amp.custom_fwd(cast_inputs=torch.float32)
    def f(a):
        return a
    y = torch.randn(2, device="cuda")
    """
    for target in TARGETS:
        result, spy = both(src, registry, monkeypatch, target)
        assert result.applied and spy.skeletons and not spy.nones


def test_marks_on_the_first_statement_and_after_comments(registry, monkeypatch):
    src = """\
    # header comment
    g = torch.cuda.CUDAGraph()
    import torch


    # porttool: TODO(PT113): an older marker stays once
    h = torch.cuda.CUDAGraph()
    """
    for target in TARGETS:
        result, spy = both(src, registry, monkeypatch, target, unsafe=False, mark_unfixed=True)
        assert result.marked and spy.skeletons
        again, _ = both(result.text, registry, monkeypatch, target, unsafe=False, mark_unfixed=True, dedent=False)
        assert again.text == result.text


def test_duplicate_port_after_text_kept_statements(registry, monkeypatch):
    # `torch.manual_seed(0)` has no site: it stays a piece of text, and the port of the next line
    # (the same call) must still be recognised as its duplicate
    src = """\
    import torch


    class Seeds:
        def a(self):
            return 1

        torch.manual_seed(0)
        torch.cuda.manual_seed_all(0)

        def b(self):
            return 2
    """
    result, spy = both(src, registry, monkeypatch, "portable")
    assert spy.skeletons and spy.opaque
    assert result.applied and result.text.count("torch.manual_seed(0)") == 1


def test_fallbacks_to_the_whole_module(registry, monkeypatch):
    # no newline at the end of the file; mixed line breaks
    for text in ("import torch\nx = torch.ones(2).cuda()", "import torch\r\nx = torch.ones(2).cuda()\ny = 1\n"):
        result, spy = both(text, registry, monkeypatch, "neuron", dedent=False)
        assert result.applied and spy.nones and not spy.skeletons
    # an import that may have become unused but is named in a string: libcst's scope analysis
    # decides, on the whole module
    src = """\
    import torch
    from torch.cuda.amp import autocast

    __all__ = ["autocast"]

    def f(x):
        with autocast():
            return x
    """
    result, spy = both(src, registry, monkeypatch, "portable")
    assert result.applied and spy.skeletons and spy.wholes


def test_crlf_file(registry, monkeypatch):
    text = textwrap.dedent(CLASS_WITH_METHODS).replace("\n", "\r\n")
    for target in TARGETS:
        result, spy = both(text, registry, monkeypatch, target, dedent=False)
        assert result.applied and "\r\n" in result.text and "\n" not in result.text.replace("\r\n", "")
        assert spy.skeletons and spy.opaque and not spy.wholes


def test_tab_and_two_space_indentation(registry, monkeypatch):
    for indent in ("\t", "  "):
        text = textwrap.dedent(CLASS_WITH_METHODS).replace("    ", indent)
        result, spy = both(text, registry, monkeypatch, "portable", dedent=False)
        assert result.applied and spy.skeletons


def test_notebook_rewrite_is_the_same(registry, monkeypatch, tmp_path):
    notebook = ROOT / "sample_models" / "notebook_demo" / "train_demo.ipynb"
    path = tmp_path / notebook.name
    path.write_bytes(notebook.read_bytes())
    options = rewrite_run.RewriteOptions(scan_run.ScanOptions(registry=registry, target="portable", root=str(tmp_path)), unsafe=True, mark_unfixed=True)
    results = {}
    for segmented in (False, True):
        monkeypatch.setattr(transform, "SEGMENTED", segmented)
        results[segmented] = rewrite_run.rewrite_one(Candidate(path, True), options)
    assert results[True].rewritten == results[False].rewritten and results[True].changed
    assert results[True].diagnostics == results[False].diagnostics


def _python_files() -> list[Path]:
    return sorted([*(ROOT / "sample_models").rglob("*.py"), *(ROOT / "tests" / "fixtures").rglob("*.py")])


@pytest.mark.parametrize("target", TARGETS)
def test_every_sample_and_fixture_file_ports_the_same(registry, monkeypatch, target):
    compared = 0
    for path in _python_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            scan_run.sites_in_text(text, registry)
        except SyntaxError:
            continue
        for unsafe, mark in ((False, False), (True, True)):
            both(text, registry, monkeypatch, target, unsafe=unsafe, mark_unfixed=mark, dedent=False)
            compared += 1
    assert compared > 50


def test_support_definition_inserted_before_a_statement_kept_as_text(registry, monkeypatch):
    src = """\
    import torch

    DEVICE = torch.accelerator.current_accelerator(check_available=True) or torch.device("cpu")
    # a comment above a function without sites


    def unrelated():
        return 1


    def timed(fn):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        return start.elapsed_time(end)
    """
    result, spy = both(src, registry, monkeypatch, "portable")
    assert "class AcceleratorEvent" in result.text and result.text.count("class AcceleratorEvent") == 1
    assert result.text.index("DEVICE = ") < result.text.index("class AcceleratorEvent") < result.text.index("# a comment above")
    assert spy.skeletons and spy.opaque and not spy.wholes
    again, _ = both(result.text, registry, monkeypatch, "portable", dedent=False)
    assert again.text == result.text  # the definition is there already: not added twice
