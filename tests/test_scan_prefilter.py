"""The text prefilter (porttool/scan/prefilter.py) decides, without parsing, that a file holds no
site. It may let through files without sites (that only costs time); it must never reject a file
that holds one. Every test here checks that promise against the full scan of the parsed file."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from porttool.ruleset.registry import load_registry
from porttool.scan import prefilter as prefilter_module
from porttool.scan.matcher import scan_tree
from porttool.scan.prefilter import Prefilter
from porttool.scan.rule_index import CompiledRules

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = load_registry()
RULES = CompiledRules.build(REGISTRY)


def sites_without_prefilter(source: str) -> list:
    return scan_tree(source, ast.parse(source), RULES)


def assert_kept(source: str, rules: CompiledRules = RULES) -> bool:
    """The prefilter keeps `source` if it holds a site, also when only that site's rule is
    selected (no other rule's needle lets it through); returns whether it holds one."""
    sites = sites_without_prefilter(source)
    if sites:
        assert rules.may_match(source), f"rejected a file with {[s.code for s in sites]}:\n{source}"
        if rules is RULES:
            for code in sorted({s.code for s in sites}):
                assert _alone(code).may_match(source), f"with only {code} selected, rejected a file with its site:\n{source}"
    return bool(sites)


_ALONE: dict[str, CompiledRules] = {}


def _alone(code: str) -> CompiledRules:
    if code not in _ALONE:
        _ALONE[code] = CompiledRules.build(REGISTRY.select([code]))
    return _ALONE[code]


KEPT = {
    "method call": "for b in batches:\n    v = b.item()\n",
    "spaces around the dot": "for b in batches:\n    v = b . item ()\n",
    "dot, comment and newline before the name": "for b in batches:\n    v = (b.  # the loss\n         # as a float\n         item())\n",
    "backslash continuation": "for b in batches:\n    v = b.\\\n        item()\n",
    "aliased torch": "import torch as th\nx = th.zeros(3, dtype=th.float64)\n",
    "imported function": "from torch import nonzero as nz\ny = nz(x)\n",
    "cuda in a string": "import torch\nm = torch.load('w.pt', map_location='cuda:0')\n",
    "upper-case switch": "USE_CUDA = True\n",
    "mixed-case switch": "Use_Cuda = True\n",
    "environment key": "import os\nos.environ['CUDA_VISIBLE_DEVICES'] = '0'\n",
    "environment alias": "from os import environ as env\nenv['NCCL_DEBUG'] = 'INFO'\n",
    "environment copy": "def launch(env):\n    env['CUDA_VISIBLE_DEVICES'] = '0'\n",
    "environment literal": "import subprocess\nsubprocess.run(cmd, env={'NCCL_P2P_DISABLE': '1'})\n",
    "upper-case backend": "backend = 'NCCL'\n",
    "upper-case backend spec": "backend = 'CPU:GLOO,CUDA:NCCL'\n",
    "pin_memory entry": "kwargs = {'num_workers': 1, 'pin_memory': True}\n",
    "pin_memory variable": "from torch.utils.data import DataLoader\ndef f(ds, pin=True):\n    return DataLoader(ds, pin_memory=pin)\n",
    "fp8 matmul": "import torch\ny = torch._scaled_mm(a, b, scale_a=s, scale_b=s)\n",
    "flash attention implementation": "m = load(name, attn_implementation='flash_attention_2')\n",
    "integer device with a comment": "import torch\nx = torch.zeros(2, device=  # first card\n    0)\n",
    "positional backend": "import torch.distributed as dist\ndist.init_process_group('nccl')\n",
    "compile mode": "import torch\nm = torch.compile(m, mode='reduce-overhead')\n",
    "autocast dtype through an alias": "import torch as th\nwith th.autocast(device_type=kind, dtype=th.float16):\n    pass\n",
    "string value in triple quotes": "import torch\nm = torch.compile(m, backend=\"\"\"inductor\"\"\")\n",
    "pin_memory keyword": "from torch.utils.data import DataLoader\ndl = DataLoader(ds, pin_memory=True)\n",
    "triton": "import triton\n@triton.jit\ndef k(x):\n    pass\n",
    "name imported in parentheses": "import torch\nfrom torch import (\n    nn,\n    where as pick,\n)\ny = pick(mask)\n",
    "module alias reference": "import torch.cuda as tc\nn = tc.device_count()\n",
    "import continued with a backslash": "from torch \\\n    import compile as c\nm = c(m, mode='reduce-overhead')\n",
    "module imported with spaces": "from xformers . ops import memory_efficient_attention\n",
    "module imported among others": "import os, xformers\n",
    "module imported by name": "import importlib\nxf = importlib.import_module('xformers.ops')\n",
    # code inside f-strings, strings after prose, strings the rules match
    "method in an f-string field": "for b in batches:\n    print(f\"loss {b.item():.3f}\")\n",
    "method in a raw f-string field": "for b in batches:\n    print(rf'{b.item()}')\n",
    "device string after a docstring": 'def f(m):\n    """Move `m` to the device."""\n    return m.to("cuda")\n',
    "device string on a continuation line": 'import torch\nx = torch.zeros(\n    2,\n    device=\n    "cuda:0")\n',
    "device string in triple quotes": 'import torch\nx = torch.zeros(2, device="""cuda""")\n',
    "device string as an f-string": "import torch\nx = torch.zeros(2, device=f'cuda:{rank}')\n",
    "device string in a dict under a colon": 'opts = {\n    "device":\n    "cuda",\n}\n',
    "option string": "import argparse\np = argparse.ArgumentParser()\np.add_argument('--no-cuda', action='store_true')\n",
    "environment key after prose": 'import os\n"""Reads the environment (see "CUDA_VISIBLE_DEVICES" below)."""\nos.environ["CUDA_VISIBLE_DEVICES"] = "0"\n',
    "string value after a hash in a string": "import torch\nm = torch.compile(m, backend='x#y' and 'inductor')\n",
    "name after a comment on the line above": "for b in batches:  # .item() below\n    v = b.item()\n",
}

REJECTED = {
    "dict items": "for k, v in d.items():\n    print(k, v)\n",
    "numpy module": "import numpy as np\nfor i in range(3):\n    a = np.zeros(3)\n",
    "download and loader": "def download(url):\n    loader = make_loader(url)\n    return loader\n",
    "prose": '"""Where x is the input, the device count and the half of it."""\n',
    "a device variable": "device = 'cpu'\nx = f(device=device)\n",
    "plain torch": "import torch\nx = torch.zeros(3, device='cpu') + 1\n",
    "qualified names in prose": 'import torch\n"""Returns where the mask holds; compile it first; float64 is slow."""\n',
    "a library named in a string": "import torch\nNOTE = 'install xformers or bitsandbytes for speed'\n",
    # trigger words in comments and prose only (the scoped test; the raw text spells them all)
    "method in a comment": "for b in batches:\n    v = b  # b.item() would sync\n",
    "method in a docstring": 'def f(batches):\n    """Calls b.item() for b in batches."""\n    return batches\n',
    "device string in an example text": 'EXAMPLE = """\n    >>> pipe = pipe.to("cuda")\n    >>> x = torch.float64\n"""\n',
    "device string in a comment": "import torch\nx = torch.zeros(2)  # .to('cuda') on a GPU\n",
    "cuda inside a longer string": 'import torch\nMSG = "install torch with cuda support"\n',
    "qualified name in a comment": "import torch\n# torch.where(mask) is data-dependent\nx = torch.zeros(3)\n",
    "backend named in prose": "import torch\nopts = dict(backend=None)  # torch.compile(m, backend='inductor') later\n",
    "environment key in a comment": "import os\n# os.environ['CUDA_VISIBLE_DEVICES'] selects the card\nprint(os.getcwd())\n",
    "method outside any loop": "def f(x):\n    return x.item()\n",
}


@pytest.mark.parametrize("name", sorted(KEPT))
def test_files_with_sites_are_kept(name: str) -> None:
    assert assert_kept(KEPT[name]), f"{name}: the case must hold a site for the check to mean anything"


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_lookalikes_without_sites_are_rejected(name: str) -> None:
    source = REJECTED[name]
    assert not sites_without_prefilter(source)
    assert not RULES.may_match(source), f"{name}: parsed although nothing can match"


def test_scoped_rejections_are_not_raw_rejections() -> None:
    """The comment and prose cases spell a needle in the raw text: it is the scoped test that
    rejects them (the raw test alone lets them through)."""
    raw_only = []
    for name in ("method in a comment", "method in a docstring", "device string in an example text", "qualified name in a comment", "backend named in prose", "environment key in a comment"):
        source = REJECTED[name]
        prefilter = RULES.prefilter
        groups = prefilter._with_quick if any(v in source for v in prefilter._quick) else prefilter._without_quick
        if any(prefilter._holds((key, others), source, None, {}) for key, alternatives in groups for others in alternatives):
            raw_only.append(name)
    assert len(raw_only) == 6, raw_only


def test_word_boundaries_of_attribute_needles() -> None:
    """`.item(` is not `.items(`, `.itemsize`, `item(` or `_item(`; `.item` is, across spaces and
    lines (the matcher sees those too)."""
    rules = CompiledRules.build(REGISTRY.select(["PT802"]))
    loop = "for b in batches:\n    v = {}\n"
    for lookalike in ("b.items()", "b.itemsize", "item(b)", "b._item()", "b.item_count()", "b.itemize()"):
        assert not rules.may_match(loop.format(lookalike)), lookalike
    for site in ("b.item()", "b . item ()", "(b.\n         item())"):
        assert rules.may_match(loop.format(site)), site
        assert sites_without_prefilter(loop.format(site)), site


def test_tokens_judge_each_hit_by_its_place() -> None:
    from porttool.scan.prefilter import Tokens

    text = 'x = "cuda"  # cuda\ny = f"{a.item()}" + """\nb.item() "cuda"\n"""\n'
    tokens = Tokens(text)
    assert tokens.in_code(text.index("x"))
    assert not tokens.in_code(text.index("cuda\n"))  # in the comment
    assert not tokens.in_value(text.index("cuda\n"))
    assert tokens.at_string_start(text.index('"cuda"'))
    assert tokens.in_code(text.index("a.item"))  # an f-string's field
    assert not tokens.in_code(text.index("b.item"))  # the second line of a plain string
    assert not tokens.in_value(text.index("b.item"))
    assert not tokens.at_string_start(text.index('"cuda"\n"""'))  # a quote inside a string


def test_tokens_after_an_unbalanced_f_string_are_not_trusted() -> None:
    """Python 3.12 lets an f-string's field hold its own quote (`f"{d["k"]}"`): the token pattern
    ends the string early, so a hit after it cannot be judged and the file is kept."""
    from porttool.scan.prefilter import Tokens, UntrustedTokens

    text = 'for b in bs:\n    s = f"{d["k"]}" + str(b.item())\n'
    with pytest.raises(UntrustedTokens):
        Tokens(text).in_code(text.index("item"))
    assert RULES.may_match(text)


def _repository_sources() -> list[Path]:
    roots = [ROOT / "sample_models", ROOT / "tests" / "fixtures", ROOT / "tests" / "realistic", ROOT / "porttool", ROOT / "benchmarks"]
    return sorted(p for root in roots for p in root.rglob("*.py"))


def test_every_repository_source_with_sites_is_kept() -> None:
    compared = with_sites = 0
    for path in _repository_sources():
        source = path.read_text(encoding="utf-8")
        try:
            with_sites += assert_kept(source)
        except SyntaxError:
            continue
        compared += 1
    assert compared > 50 and with_sites > 20


def test_findings_with_and_without_the_prefilter_are_the_same_on_the_corpus() -> None:
    """The whole analysis (sites and suppressed sites) of every Python file of the fixture
    corpus and of this repository (its tests hold rule snippets in strings; porttool itself
    names CUDA in strings and prose everywhere), with the prefilter and with none; and the
    prefilter rejects files there, so the comparison means something."""
    from porttool.scan.analysis import Analysis, analyse
    from porttool.scan.sources import read_source

    unfiltered = CompiledRules.build(REGISTRY)
    unfiltered.prefilter = None
    roots = [ROOT / "sample_models", ROOT / "tests", ROOT / "porttool", ROOT / "benchmarks"]
    compared = rejected = 0
    for path in sorted(p for root in roots for p in root.rglob("*.py")):
        source = read_source(path, path.name)
        filtered, everything = analyse(source, RULES), analyse(source, unfiltered)  # type: ignore[arg-type]
        if isinstance(everything, Analysis) and isinstance(filtered, Analysis):
            assert (filtered.sites, filtered.suppressed) == (everything.sites, everything.suppressed), path
            compared += 1
            rejected += not RULES.may_match(filtered.text)
        else:  # a syntax error is reported only for a file the prefilter lets through
            assert filtered == everything or not RULES.may_match(source.text), path  # type: ignore[union-attr]
    assert compared > 200 and rejected > 50, (compared, rejected)


def test_every_rule_example_is_kept() -> None:
    """With all rules, and with the example's rule alone (another rule's needle must not be what
    lets its example through)."""
    checked = 0
    for rule in REGISTRY:
        for example in rule.examples:
            try:
                checked += assert_kept(example.before)
            except SyntaxError:
                continue
    assert checked > 60


def test_the_check_fails_when_a_needle_is_wrong(monkeypatch) -> None:
    """The checks above can fail: a prefilter that looks for `.items` instead of `.item` rejects
    a file whose `.item()` the scan reports."""
    real = prefilter_module.alternatives_of

    def wrong(rule):  # type: ignore[no-untyped-def]
        return [tuple(prefilter_module.Needle(n.kind, "items" if n.value == "item" else n.value) for n in alt) for alt in real(rule)]

    monkeypatch.setattr(prefilter_module, "alternatives_of", wrong)
    broken = CompiledRules.build(REGISTRY)
    broken.prefilter = Prefilter(REGISTRY)
    with pytest.raises(AssertionError, match="rejected a file"):
        assert_kept(KEPT["method call"], broken)


SNIPPETS = sorted({e.before.strip() + "\n" for rule in REGISTRY for e in rule.examples})
FILLER = st.sampled_from(["x = 1\n", "for k, v in d.items():\n    pass\n", "import numpy as np\n", "# cuda in a comment\n", "s = 'no device here'\n", "def download(u):\n    return u\n"])


@settings(max_examples=int(os.environ.get("PORTTOOL_PREFILTER_EXAMPLES", "150")), deadline=None)
@given(parts=st.lists(st.one_of(st.sampled_from(SNIPPETS), FILLER), min_size=1, max_size=6), indent=st.booleans())
def test_spliced_rule_examples_are_kept(parts: list[str], indent: bool) -> None:
    body = "".join(parts)
    source = "def wrapper():\n" + "".join("    " + line + "\n" for line in body.splitlines()) if indent else body
    try:
        ast.parse(source)
    except SyntaxError:
        return
    assert_kept(source)


def test_every_built_in_rule_kind_is_known_to_the_prefilter() -> None:
    """A kind the prefilter does not know makes every file "may match" (and every line relevant):
    correct, but the scan would parse every file of a tree. A new matcher kind needs its needles."""
    from porttool.scan.prefilter import line_needles_of

    unknown = sorted({r.match["kind"] for r in REGISTRY if prefilter_module.alternatives_of(r) == [()] or line_needles_of(r) is None})
    assert not unknown, f"no needles for rule kinds {unknown} (scan/prefilter.py)"
    assert not Prefilter(REGISTRY).always
