"""The static stage of `porttool check`: nothing is run, every problem is reported with its line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def static(run_cli: Any, cwd: Path, *args: str) -> tuple[int, dict[str, Any], list[tuple[str, int, str, str]]]:
    code, out, _ = run_cli("check", "--output-format", "json", *args, cwd=cwd)
    data = json.loads(out)
    assert data["run"] is None  # no command: nothing was executed
    problems = [(Path(p["path"]).name, p["line"], p["kind"], p["code"])
                for p in data["static"]["problems"]]
    return code, data["static"], problems


def test_missing_torch_api_reported_with_its_line(run_cli: Any, tmp_path: Path) -> None:
    write(tmp_path / "port.py", """\
import torch
import torch.nn.functional as F
from torch import accelerator as acc

torch.accelerator.synchronize()
n = torch.accelerator.nonexistent_fn(0)
y = F.not_a_function(torch.ones(2))
acc.memory_allocated_v9()
z = torch.nn.functional.relu(torch.ones(2))
""")
    code, result, problems = static(run_cli, tmp_path, "port.py")
    assert code == 1 and result["passed"] is False
    assert problems == [("port.py", 6, "missing-api", ""), ("port.py", 7, "missing-api", ""),
                        ("port.py", 8, "missing-api", "")]
    messages = [p["message"] for p in result["problems"]]
    assert messages[0] == (f"`torch.accelerator.nonexistent_fn` does not exist in the installed "
                           f"torch {torch.__version__}")
    assert "`torch.nn.functional.not_a_function`" in messages[1]
    assert "`torch.accelerator.memory_allocated_v9`" in messages[2]
    assert result["torch_version"] == torch.__version__


def test_apis_of_the_target_sdk_are_not_looked_up(run_cli: Any, tmp_path: Path) -> None:
    # torch.neuron / torch_neuronx exist only with the SDK installed: not reported here.
    write(tmp_path / "port.py", "import torch\nimport torch_neuronx\n"
                                "torch.neuron.synchronize()\ntorch_neuronx.trace(None)\n")
    code, _, problems = static(run_cli, tmp_path, "port.py")
    assert (code, problems) == (0, [])


def test_leftover_fixable_finding_reported(run_cli: Any, tmp_path: Path) -> None:
    write(tmp_path / "half_ported.py", """\
import torch

device = torch.device("neuron")
x = torch.ones(2).to(device)
if torch.cuda.is_available():
    torch.cuda.synchronize()
""")
    code, result, problems = static(run_cli, tmp_path, "half_ported.py")
    assert code == 1
    assert problems == [("half_ported.py", 5, "fixable", "PT101"),
                        ("half_ported.py", 6, "fixable", "PT105")]
    assert all("still fixable for neuron" in p["message"] for p in result["problems"])


def test_unsafe_fixes_count_unless_no_unsafe_fixes(run_cli: Any, tmp_path: Path) -> None:
    # pin_memory=True is fixable for neuron only with --unsafe-fixes (PT401).
    write(tmp_path / "loader.py", "import torch\n"
                                  "dl = torch.utils.data.DataLoader([1, 2], pin_memory=True)\n")
    code, _, problems = static(run_cli, tmp_path, "loader.py")
    assert code == 1 and problems == [("loader.py", 2, "fixable", "PT401")]
    code, _, problems = static(run_cli, tmp_path, "--no-unsafe-fixes", "loader.py")
    assert (code, problems) == (0, [])


def test_suppressed_findings_are_not_reported(run_cli: Any, tmp_path: Path) -> None:
    write(tmp_path / "timed.py", """\
import torch

torch.cuda.synchronize()  # porttool: ignore[PT105] -- timing needs the CUDA barrier here
# porttool: ignore[PT101]
ok = torch.cuda.is_available()
""")
    write(tmp_path / "vendored.py", "# porttool: skip-file\nimport torch\nx = torch.ones(1).cuda()\n")
    code, result, problems = static(run_cli, tmp_path, "timed.py", "vendored.py")
    assert (code, problems) == (0, [])
    assert result["files"] == 2


def test_syntax_error_is_reported_and_fails(run_cli: Any, tmp_path: Path) -> None:
    write(tmp_path / "good.py", "import torch\nx = torch.ones(2)\n")
    write(tmp_path / "broken.py", "import torch\n\ndef f(:\n    pass\n")
    code, result, problems = static(run_cli, tmp_path, ".")
    assert code == 1 and result["files"] == 2
    assert problems == [("broken.py", 3, "syntax", "PT902")]
    code, out, _ = run_cli("check", "broken.py", cwd=tmp_path)
    assert code == 1 and "broken.py:3:" in out and "PT902" in out


def test_code_that_parses_but_does_not_compile_fails(run_cli: Any, tmp_path: Path) -> None:
    # `return` outside a function parses; only byte-compiling rejects it.
    write(tmp_path / "bad.py", "import torch\nx = 1\nreturn x\n")
    code, result, problems = static(run_cli, tmp_path, "bad.py")
    assert code == 1
    assert problems == [("bad.py", 3, "compile", "")]
    assert "'return' outside function" in result["problems"][0]["message"]


SHADOWED = """\
import torch._inductor.config as config
from torch import accelerator as acc

config.coordinate_descent_tuning = True
bad = config.no_such_option                     # 5: the import, no shadow: reported


class Block:
    config = {"width": 4}                       # a class attribute shadows in the class body
    width = config.get("width")

    def __init__(self, config) -> None:         # a parameter
        self.width = config.n_embd

    def sizes(self, configs):
        return [config.n_embd for config in configs]   # a comprehension variable

    def fallback(self):
        return config.still_missing             # 19: the method sees the module's import


def build(blocks):
    for acc in blocks:                          # a loop target
        acc.widen()
    config = make_config()                      # a local
    return config.n_layer, acc.nonexistent_fn, (lambda config: config.n_head)


def make_config():
    return acc.not_there()                      # 30: the import again: reported
"""


def test_local_names_shadow_an_imported_module(run_cli: Any, tmp_path: Path) -> None:
    # `import torch._inductor.config as config` and local `config` objects (llm.c's train_gpt2.py):
    # only the uses that really name the import are looked up.
    write(tmp_path / "port.py", SHADOWED)
    code, result, problems = static(run_cli, tmp_path, "port.py")
    assert code == 1
    assert problems == [("port.py", 5, "missing-api", ""), ("port.py", 19, "missing-api", ""),
                        ("port.py", 30, "missing-api", "")]
    assert [p["message"].split("`")[1] for p in result["problems"]] == [
        "torch._inductor.config.no_such_option", "torch._inductor.config.still_missing",
        "torch.accelerator.not_there"]
    assert [p["column"] for p in result["problems"]] == [7, 16, 12]


def test_a_name_bound_two_ways_is_not_claimed_missing(run_cli: Any, tmp_path: Path) -> None:
    write(tmp_path / "compat.py", """\
try:
    from torch.hub import download_url_to_file as fetch
except ImportError:
    from torch.hub import _download_url_to_file as fetch   # only on old torch
fetch("https://example.invalid/x", "x")

import torch.nn as nn
for nn in range(3):   # rebinds the module name at module level: either binding may be seen
    print(nn.Linear_missing)
""")
    code, _, problems = static(run_cli, tmp_path, "compat.py")
    assert (code, problems) == (0, [])


def test_call_results_are_not_taken_for_api_names(run_cli: Any, tmp_path: Path) -> None:
    # libcst names `torch.tril(...).view` "torch.tril.view"; only dotted names are APIs
    write(tmp_path / "port.py", "import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n"
                                "    def f(self, x):\n        return torch.tril(x).view(-1), nn.functional.nope\n")
    code, _, problems = static(run_cli, tmp_path, "port.py")
    assert (code, problems) == (1, [("port.py", 6, "missing-api", "")])


def test_a_file_libcst_cannot_parse_is_checked_by_imports_with_a_note(tmp_path: Path, monkeypatch: Any) -> None:
    from porttool.check import static
    from porttool.ruleset.registry import load_registry
    from porttool.scan.discovery import Candidate
    from porttool.scan.run import ScanOptions

    def unparsable(source: str) -> list[Any]:
        raise ValueError("Syntax Error @ 3:1.\nmore")

    monkeypatch.setattr(static, "scoped_uses", unparsable)
    path = write(tmp_path / "port.py", "import torch\n\ndef f(torch):\n    return torch.nope\n")
    result = static.check_static([Candidate(path, True)],
                                 ScanOptions(load_registry(), "neuron", str(tmp_path)))
    assert [(p.line, p.kind) for p in result.problems] == [(4, "missing-api")]
    assert result.notes == ("port.py: names were resolved by imports alone, not by scope "
                            "(libcst could not parse the file: Syntax Error @ 3:1.)",)


def test_scope_analysis_runs_only_where_a_name_is_bound_twice() -> None:
    import ast

    from porttool.check.api_names import import_table_uses, needs_scope

    plain = ast.parse("import torch\nimport torch.nn.functional as F\nimport torch.nn\n"
                      "torch.nope()\nF.nope\n")
    assert not needs_scope(plain, import_table_uses(plain))
    shadowed = ast.parse("import torch._inductor.config as config\n"
                         "def f(config):\n    return config.n_embd\n")
    assert needs_scope(shadowed, import_table_uses(shadowed))
    fallback = ast.parse("try:\n    from torch.hub import a as fetch\nexcept ImportError:\n"
                         "    from torch.hub import b as fetch\nfetch()\n")
    assert needs_scope(fallback, import_table_uses(fallback))


def test_a_site_the_rewrite_declines_is_not_still_fixable(run_cli: Any, tmp_path: Path) -> None:
    """PT009 has a fix for neuron, but not for a computed tensor type: `rewrite` says "not fixable at
    this site", so the static stage must not fail the port on it (seen in llm.c's train_llama3.py)."""
    write(tmp_path / "load.py", """\
import torch


def load(build):
    original = torch.get_default_dtype()
    model = build()
    torch.set_default_tensor_type(torch.tensor([], dtype=original, device="cpu").type())
    return model
""")
    code, report, problems = static(run_cli, tmp_path, "--target", "neuron", ".")
    assert problems == [] and code == 0, problems
    assert any("load.py:7: PT009 is left for a human" in note for note in report["notes"]), report["notes"]
    # a site the rewrite does fix is still reported next to it
    write(tmp_path / "spelled.py", "import torch\ntorch.set_default_tensor_type(torch.cuda.HalfTensor)\n")
    code, _, problems = static(run_cli, tmp_path, "--target", "neuron", ".")
    assert code == 1 and ("spelled.py", 2, "fixable", "PT009") in problems, problems
