"""Matching by meaning: aliases, multi-line calls, strings vs code, dispatch, suppressions."""

from __future__ import annotations

import textwrap

import pytest

from porttool.scan import run as scan_run


def codes(text: str, registry, only: str | None = None) -> list[tuple[str, int]]:
    reg = registry.select([only]) if only else registry
    return [(s.code, s.span.line) for s in scan_run.sites_in_text(textwrap.dedent(text), reg)]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ntorch.cuda.synchronize()\n",
        "import torch as th\nth.cuda.synchronize()\n",
        "from torch import cuda\ncuda.synchronize()\n",
        "from torch.cuda import synchronize\nsynchronize()\n",
        "from torch.cuda import synchronize as sync\nsync()\n",
        "import torch.cuda as tc\ntc.synchronize()\n",
        "def f():\n    import torch\n    torch.cuda.synchronize(\n        0,\n    )\n",
    ],
)
def test_call_matched_through_aliases(source, registry):
    assert [c for c, _ in codes(source, registry, "PT105")] == ["PT105"]


@pytest.mark.parametrize(
    "source",
    [
        "torch.cuda.synchronize()\n",  # torch never imported: not the torch module
        "import torch\n# torch.cuda.synchronize()\n",
        'import torch\n"""torch.cuda.synchronize()"""\n',
        'import torch\nmsg = "call torch.cuda.synchronize() first"\n',
        "import mylib as torch2\ntorch2.cuda.synchronize()\n",
    ],
)
def test_no_match_outside_code_or_on_other_modules(source, registry):
    assert codes(source, registry, "PT105") == []


def test_multiline_method_call_position(registry):
    src = "import torch\nx = (torch.ones(2)\n     .cuda(\n        non_blocking=True))\n"
    sites = scan_run.sites_in_text(src, registry.select(["PT001"]))
    assert len(sites) == 1 and sites[0].span.line == 2 and sites[0].span.end_line == 4


def test_non_ascii_columns_are_characters(registry):
    src = "import torch\nß = 'é'; torch.cuda.synchronize()\n"
    (site,) = scan_run.sites_in_text(src, registry.select(["PT105"]))
    assert site.span.column == src.splitlines()[1].index("torch")


def test_suppression_comment_on_line_and_line_above(registry):
    src = textwrap.dedent(
        """\
        import torch
        torch.cuda.synchronize()  # porttool: ignore[PT105] -- timing barrier
        # porttool: ignore[PT105]
        torch.cuda.synchronize()
        torch.cuda.synchronize()  # porttool: ignore[PT001]
        """
    )
    assert codes(src, registry, "PT105") == [("PT105", 5)]


def test_noqa_with_porttool_codes_suppresses_but_a_bare_noqa_does_not(registry):
    src = textwrap.dedent(
        """\
        import torch
        torch.cuda.synchronize()  # noqa: PT105
        torch.cuda.synchronize()  # NOQA:E501,PT105 -- any case, mixed with other linters' codes
        # noqa: F401 PT105 -- (a noqa covers its own line only, as in flake8)
        torch.cuda.synchronize()
        torch.cuda.synchronize()  # noqa
        torch.cuda.synchronize()  # noqa: E501
        x = torch.ones(1).cuda()  # noqa: PT105
        torch.cuda.synchronize()  # noqa: PT001, PT105
        """
    )
    assert codes(src, registry) == [("PT105", 5), ("PT105", 6), ("PT105", 7), ("PT001", 8)]


def test_skip_file(registry):
    assert codes("# porttool: skip-file\nimport torch\ntorch.cuda.synchronize()\n", registry) == []


def test_per_backend_dispatch_is_recognised(registry):
    src = textwrap.dedent(
        """\
        import torch
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        elif torch.backends.mps.is_available():
            torch.mps.synchronize()
        torch.cuda.synchronize()
        """
    )
    sites = [s for s in scan_run.sites_in_text(src, registry.select(["PT105"]))]
    assert [(s.span.line, s.in_dispatch) for s in sites] == [(3, True), (6, False)]


def test_prefilter_skips_files_without_triggers(registry):
    rules = scan_run.compiled(registry)
    assert not rules.may_match("import os\nprint(os.getcwd())\n")
    assert rules.may_match("import torch\ntorch.cuda.synchronize()\n")
