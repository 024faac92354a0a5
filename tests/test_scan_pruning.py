"""The scan skips statements that cannot hold a site (porttool.scan.matcher.relevant_lines): the
pruned scan must find exactly what a visit of every statement finds."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from porttool.scan.import_table import ImportTable, line_numbers
from porttool.ruleset.registry import load_registry
from porttool.scan.matcher import scan_tree
from porttool.scan.rule_index import CompiledRules, relevant_lines

ROOT = Path(__file__).resolve().parents[1]
RULES = CompiledRules.build(load_registry())


def both(source: str) -> tuple[list, list]:
    tree = ast.parse(source)
    return scan_tree(source, tree, RULES, prune=True), scan_tree(source, tree, RULES, prune=False)


def assert_same(source: str) -> list:
    pruned, full = both(source)
    assert pruned == full
    return pruned


CASES = {
    "alias hides the trigger": "from torch.cuda import synchronize as wait_all\n\ndef f():\n    x = 1\n    wait_all()\n",
    "module alias": "import torch.cuda.amp as mixed\n\n\ndef step():\n    with mixed.autocast():\n        pass\n",
    "dataloader alias": "from torch.utils.data import DataLoader as DL\n\ndef load(ds):\n    return DL(ds, pin_memory=True)\n",
    "decorator on its own line": "import torch\n\n@torch.cuda.amp.custom_fwd\ndef forward(x):\n    return x\n",
    "upper-case switch": "import torch\nUSE_CUDA = True\nx = torch.zeros(1)\nif USE_CUDA:\n    x = x.cuda()\n",
    "environment key": "import os\nos.environ['CUDA_VISIBLE_DEVICES'] = '0'\nflag = os.getenv('NCCL_DEBUG')\nfrom os import environ as env\nenv['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'\n",
    "per-backend dispatch at module level": "import torch\nd = torch.device('cpu')\nif d.type == 'cuda':\n    torch.cuda.synchronize()\nif d.type == 'mps':\n    torch.mps.synchronize()\n",
    "nested import used elsewhere": "def a():\n    import torch\n\ndef b(x):\n    return x.cuda()\n\ndef c():\n    torch.cuda.synchronize()\n",
    "lone carriage returns": "import torch\rx = 1\ry = torch.zeros(1).cuda()\rz = 2\r",
    "crlf": "import torch\r\nx = 1\r\ny = torch.zeros(1).cuda()\r\n",
    "expanding lower case": "import torch\nİ = 1\nx = torch.zeros(1).to('cuda')\n",
    "site in an except clause": "import torch\ntry:\n    pass\nexcept torch.cuda.OutOfMemoryError:\n    pass\n",
    "loop-only rule": "import torch\nfor i in range(3):\n    y = torch.ones(1)\n    v = y.item()\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_pruned_scan_equals_full_scan(name: str) -> None:
    sites = assert_same(CASES[name])
    assert sites, f"{name}: the case must hold a site for the comparison to mean anything"


def test_statements_without_trigger_are_skipped() -> None:
    source = "import torch\n\ndef plain(a, b):\n    return a + b\n\ndef moved(x):\n    return x.cuda()\n"
    tree = ast.parse(source)
    lines = relevant_lines(source, RULES, ImportTable(tree, source))
    assert lines is not None
    assert 4 not in lines and 7 in lines  # plain()'s body is skipped, moved()'s is visited


def test_hidden_alias_lines_are_relevant() -> None:
    source = "from torch.cuda import synchronize as wait_all\nx = 1\nwait_all()\n"
    tree = ast.parse(source)
    assert 3 in (relevant_lines(source, RULES, ImportTable(tree, source)) or [])


def test_line_numbers_count_like_ast() -> None:
    source = "a\r\nb\rc\nd"
    offsets = [source.index(ch) for ch in "abcd"]
    assert line_numbers(source, offsets) == [1, 2, 3, 4]
    assert [n.lineno for n in ast.parse("a\r\nb\rc\nd").body] == [1, 2, 3, 4]


def test_import_table_pruned_walk_keeps_every_import() -> None:
    source = "import os\n\ndef f():\n    from torch import cuda as c\n    return 1\n\nclass K:\n    def g(self):\n        import numpy as np\n"
    tree = ast.parse(source)
    assert ImportTable(tree, source).aliases == ImportTable(tree).aliases == {"os": "os", "c": "torch.cuda", "np": "numpy"}


def _repository_sources() -> list[Path]:
    roots = [ROOT / "sample_models", ROOT / "tests" / "fixtures", ROOT / "tests" / "realistic", ROOT / "porttool"]
    return sorted(p for root in roots for p in root.rglob("*.py"))


def test_pruned_scan_equals_full_scan_on_samples_and_fixtures() -> None:
    compared = with_sites = 0
    for path in _repository_sources():
        source = path.read_text(encoding="utf-8")
        try:
            sites = assert_same(source)
        except SyntaxError:
            continue
        compared += 1
        with_sites += bool(sites)
    assert compared > 50 and with_sites > 20


SNIPPETS = sorted({e.before.strip() + "\n" for rule in load_registry() for e in rule.examples})
FILLER = st.sampled_from(["x = 1\n", "def f(a):\n    return a\n", "class K:\n    y = 2\n", "# cuda in a comment\n", "s = 'no device here'\n", "import numpy as np\n"])


@settings(max_examples=int(os.environ.get("PORTTOOL_PRUNE_EXAMPLES", "150")), deadline=None)
@given(parts=st.lists(st.one_of(st.sampled_from(SNIPPETS), FILLER), min_size=1, max_size=8), indent=st.booleans())
def test_pruned_scan_equals_full_scan_on_spliced_rule_examples(parts: list[str], indent: bool) -> None:
    body = "".join(parts)
    source = "def wrapper():\n" + "".join("    " + line + "\n" for line in body.splitlines()) if indent else body
    try:
        ast.parse(source)
    except SyntaxError:
        return
    assert_same(source)
