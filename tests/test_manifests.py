"""Dependency manifests as scan findings: each format's entries at exact positions, discovery by
name and through `-r` includes, suppressions in the manifests' own comments, the prefilter, the
result cache, and every output format."""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap
from pathlib import Path

import pytest
import yaml

from porttool.scan import run as scan_run
from porttool.scan.manifests import manifest_kind

REPO = Path(__file__).resolve().parent.parent


def _write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _scan(run_cli, root: Path, *args: str) -> tuple[int, dict]:
    code, out, err = run_cli("scan", ".", "-f", "json", *args, cwd=root)
    assert code in (0, 1), err
    return code, json.loads(out)


def _where(doc: dict) -> list[tuple[str, int, int, int, str]]:
    """(path, line, column, end column, code) of every finding, 1-based columns as reported."""
    return sorted((f["path"], f["line"], f["column"], f["end_column"], f["code"]) for f in doc["findings"])


def _sites(text: str, name: str, registry) -> list[tuple[int, int, int, str, str]]:
    return [(s.span.line, s.span.column, s.span.end_column, s.code, s.name) for s in scan_run.sites_in_file_text(textwrap.dedent(text).lstrip("\n"), name, registry)]


@pytest.mark.parametrize(
    ("name", "folder", "kind"),
    [
        ("requirements.txt", "", "requirements"),
        ("requirements-cuda.txt", "", "requirements"),
        ("dev_requirements.txt", "", "requirements"),
        ("requirements.in", "", "requirements"),
        ("constraints.txt", "", "requirements"),
        ("base.txt", "requirements", "requirements"),
        ("notes.txt", "", None),
        ("pyproject.toml", "", "pyproject"),
        ("Cargo.toml", "", None),
        ("setup.py", "", "setup-py"),
        ("setup.cfg", "", "setup-cfg"),
        ("environment.yml", "", "conda"),
        ("environment-gpu.yaml", "", "conda"),
        ("conda.yaml", "", "conda"),
        ("train-env.yml", "", "conda"),
        ("docker-compose.yml", "", None),
        ("Dockerfile", "", "dockerfile"),
        ("Dockerfile.gpu", "", "dockerfile"),
        ("train.Dockerfile", "", "dockerfile"),
        ("Containerfile", "", "dockerfile"),
        ("dockerfile_helpers.py", "", None),
        ("train.py", "", None),
        ("REQUIREMENTS.TXT", "", "requirements"),
        ("build.gradle", "", None),
    ],
)
def test_manifests_are_recognised_by_name(name, folder, kind):
    assert manifest_kind(name, folder) == kind
    # the pre-commit scan hook passes exactly the files porttool reads
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (scan,) = [h for h in hooks if h["id"] == "porttool-scan"]
    path = f"proj/{folder}/{name}" if folder else f"proj/{name}"
    wanted = kind is not None or name.endswith((".py", ".pyi", ".ipynb"))
    assert bool(re.search(scan["files"], path)) == wanted, path


def test_requirements_file(registry):
    text = """
    # CUDA 11.8 build
    --extra-index-url https://download.pytorch.org/whl/cu118
    -c constraints.txt
    torch==2.1.0+cu118 \\
        --hash=sha256:0123
    flash_attn>=2.5 ; sys_platform == "linux"  # the fast path
    xformers[full] == 0.0.22
    numpy>=1.24
    -e git+https://github.com/NVIDIA/apex.git#egg=apex
    https://download.pytorch.org/whl/cu121/torchaudio-2.1.0%2Bcu121-cp310-cp310-linux_x86_64.whl
    """
    assert _sites(text, "requirements.txt", registry) == [
        (2, 18, 56, "PT759", "https://download.pytorch.org/whl/cu118"),
        (4, 0, 18, "PT758", "torch"),
        (6, 0, 15, "PT750", "flash_attn"),
        (7, 0, 24, "PT751", "xformers"),
        (9, 3, 50, "PT752", "apex"),
        (10, 0, 92, "PT758", "torchaudio"),
    ]


def test_pyproject(registry):
    text = """
    [project]
    name = "demo"
    dependencies = [
        "torch>=2.1",
        "flash-attn>=2.5",  # porttool: ignore[PT750] -- the CUDA build only
    ]
    [project.optional-dependencies]
    gpu = ['bitsandbytes>=0.43', "nvidia-cudnn-cu12"]

    [tool.poetry.group.cuda.dependencies]
    cupy-cuda12x = "^13"
    torch = { version = "2.1.0+cu121", source = "torch-cu121" }

    [[tool.poetry.source]]
    name = "torch-cu121"
    url = "https://download.pytorch.org/whl/cu121"

    [[tool.uv.index]]
    name = "pytorch-cu124"
    url = "https://download.pytorch.org/whl/cu124"

    [tool.uv.sources]
    torch = [{ index = "pytorch-cu124" }]
    """
    assert _sites(text, "pyproject.toml", registry) == [
        (8, 8, 26, "PT753", "bitsandbytes"),
        (8, 30, 47, "PT757", "nvidia-cudnn-cu12"),
        (11, 0, 12, "PT754", "cupy-cuda12x"),
        (12, 0, 5, "PT758", "torch"),
        (16, 7, 45, "PT759", "https://download.pytorch.org/whl/cu121"),
        (20, 7, 45, "PT759", "https://download.pytorch.org/whl/cu124"),
    ]


def test_invalid_pyproject_is_a_diagnostic_naming_the_file(tmp_path, run_cli):
    _write(tmp_path, "pyproject.toml", '[project]\ndependencies = ["flash-attn"\n')
    code, doc = _scan(run_cli, tmp_path)
    assert code == 1
    (diagnostic,) = doc["diagnostics"]
    assert diagnostic["path"] == "pyproject.toml" and diagnostic["code"] == "PT909"
    assert "invalid TOML" in diagnostic["message"]


def test_setup_py_is_read_not_run(tmp_path, run_cli):
    _write(
        tmp_path,
        "setup.py",
        """
        import pathlib
        from setuptools import setup

        pathlib.Path("EXECUTED").write_text("setup.py ran")
        BASE = ["torch>=2.1", "triton"]
        CUDA = ["nvidia-nccl-cu12"]
        setup(
            name="demo",
            install_requires=BASE + ["pynvml"],
            extras_require={"cuda": CUDA, "dev": ["pytest"]},
            dependency_links=["https://pypi.ngc.nvidia.com"],
        )
        """,
    )
    _, doc = _scan(run_cli, tmp_path, "--select", "PT75", "--select", "PT76")
    assert not (tmp_path / "EXECUTED").exists()
    assert _where(doc) == [
        ("setup.py", 5, 24, 30, "PT756"),
        ("setup.py", 6, 10, 26, "PT757"),
        ("setup.py", 9, 31, 37, "PT755"),
        ("setup.py", 11, 24, 51, "PT759"),
    ]


def test_setup_cfg(registry):
    text = """
    [metadata]
    name = demo
    [options]
    install_requires =
        torch>=2.1
        xformers  # attention
    [options.extras_require]
    gpu = cupy-cuda12x
    ; comment
    """
    assert _sites(text, "setup.cfg", registry) == [(6, 4, 12, "PT751", "xformers"), (8, 6, 18, "PT754", "cupy-cuda12x")]


def test_conda_environment(registry):
    text = """
    name: train
    channels:
      - pytorch
      - nvidia   # CUDA packages
    dependencies:
      - python=3.10
      - pytorch::pytorch=2.1.0=py3.10_cuda11.8_cudnn8.7.0_0
      - "pytorch-cuda=11.8"
      - pip
      - pip:
          - --extra-index-url https://download.pytorch.org/whl/cu118
          - flash-attn==2.5.8
      - cudatoolkit=11.8
    """
    assert _sites(text, "environment.yml", registry) == [
        (4, 4, 10, "PT762", "nvidia"),
        (7, 13, 55, "PT758", "pytorch"),
        (8, 5, 22, "PT761", "pytorch-cuda"),
        (11, 26, 64, "PT759", "https://download.pytorch.org/whl/cu118"),
        (12, 8, 25, "PT750", "flash-attn"),
        (13, 4, 20, "PT761", "cudatoolkit"),
    ]


def test_dockerfile(registry):
    text = """
    # syntax=docker/dockerfile:1
    ARG CUDA=12.1.1
    FROM nvidia/cuda:${CUDA}-cudnn8-devel-ubuntu22.04 AS build
    ENV CUDA_HOME=/usr/local/cuda \\
        PATH=/usr/local/cuda/bin:$PATH
    ENV TORCH_CUDA_ARCH_LIST "8.0 9.0"
    RUN apt-get update && apt-get install -y python3-pip && \\
        pip3 install --no-cache-dir \\
            torch==2.1.0 --index-url https://download.pytorch.org/whl/cu121 && \\
        python3 -m pip install "flash-attn>=2.5" --no-build-isolation
    # porttool: ignore[PT751]
    RUN pip install xformers
    RUN conda install -y -c nvidia cuda-toolkit=12.1 && echo done
    FROM build AS final
    FROM python:3.11-slim
    """
    assert _sites(text, "Dockerfile", registry) == [
        (3, 5, 49, "PT760", "nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04"),
        (4, 4, 13, "PT763", "CUDA_HOME"),
        (6, 4, 24, "PT763", "TORCH_CUDA_ARCH_LIST"),
        (9, 33, 71, "PT759", "https://download.pytorch.org/whl/cu121"),
        (10, 28, 43, "PT750", "flash-attn"),
        (13, 24, 30, "PT762", "nvidia"),
        (13, 31, 48, "PT761", "cuda-toolkit"),
    ]


def test_requirements_includes_are_followed(tmp_path, run_cli):
    _write(tmp_path, "requirements.txt", "-r deps/common.txt\n--constraint=pins.cfg\n")
    _write(tmp_path, "deps/common.txt", "-r ../more.list\nflash-attn\n")
    _write(tmp_path, "more.list", "bitsandbytes\n")
    _write(tmp_path, "pins.cfg", "torch==2.1.0+cu118\n")
    _write(tmp_path, "notes.txt", "flash-attn is not installed here\n")  # not a manifest, not included
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("xformers\n")
    _write(tmp_path, "sub/requirements.txt", f"-r {outside}\n")
    try:
        _, doc = _scan(run_cli, tmp_path)
    finally:
        outside.unlink()
    assert _where(doc) == [
        ("deps/common.txt", 2, 1, 11, "PT750"),
        ("more.list", 1, 1, 13, "PT753"),
        ("pins.cfg", 1, 1, 19, "PT758"),
    ]
    # included files are scanned as requirements even though their names do not say so; named on
    # their own they are not manifests (the cache keeps the two apart)
    code, out, _ = run_cli("scan", "more.list", "-f", "json", cwd=tmp_path)
    assert json.loads(out)["findings"] == [] and code == 0


def test_manifests_are_scanned_only_with_manifest_rules(tmp_path, run_cli):
    _write(tmp_path, "requirements.txt", "flash-attn\n")
    _write(tmp_path, "train.py", "import torch\n")
    _, doc = _scan(run_cli, tmp_path)
    assert doc["summary"]["files_scanned"] == 2 and _where(doc) == [("requirements.txt", 1, 1, 11, "PT750")]
    _, doc = _scan(run_cli, tmp_path, "--select", "PT0")
    assert doc["summary"]["files_scanned"] == 1 and doc["findings"] == []


def test_suppressions_in_manifest_comments(registry):
    text = """
    flash-attn  # porttool: ignore[PT750]
    # porttool: ignore[PT751] -- the CUDA image only
    xformers
    bitsandbytes  # noqa: PT753
    cupy-cuda12x  # noqa
    triton  # noqa: E501
    """
    assert [s[3] for s in _sites(text, "requirements.txt", registry)] == ["PT754", "PT756"]
    assert _sites("# porttool: skip-file\nflash-attn\n", "requirements.txt", registry) == []
    conda = "dependencies:\n  - cudatoolkit=11.8  # porttool: ignore[PT761]\n  # noqa: PT761 (own line only: not the next)\n  - pytorch-cuda=11.8\n"
    assert [s[3:] for s in _sites(conda, "environment.yml", registry)] == [("PT761", "pytorch-cuda")]
    cfg = "[options]\ninstall_requires =\n    # porttool: ignore[PT751]\n    xformers\n    triton  # noqa: PT756\n"
    assert _sites(cfg, "setup.cfg", registry) == []
    toml = '[project]\ndependencies = [\n  "flash-attn",  # noqa: PT750\n  "xformers",\n]\n'
    assert [s[3] for s in _sites(toml, "pyproject.toml", registry)] == ["PT751"]
    # in a Dockerfile a `#` inside an instruction is an argument, except as a shell comment in RUN
    assert _sites("FROM python:3.11\nRUN pip install flash-attn xformers  # noqa: PT750\n", "Dockerfile", registry) == [(2, 27, 35, "PT751", "xformers")]


def test_the_prefilter_skips_manifests_without_a_trigger_word(registry, monkeypatch):
    from porttool.scan import manifest_matcher

    calls = []
    real = manifest_matcher.parse
    monkeypatch.setattr(manifest_matcher, "parse", lambda kind, text: calls.append(kind) or real(kind, text))
    assert _sites("numpy>=1.24\nrequests\n", "requirements.txt", registry) == []
    assert calls == []
    assert _sites("numpy>=1.24\nFlash_Attn\n", "requirements.txt", registry) == [(2, 0, 10, "PT750", "Flash_Attn")]
    assert calls == ["requirements"]


def test_warm_cache_gives_the_same_manifest_findings(tmp_path, run_cli):
    _write(tmp_path, "requirements.txt", "-r base.list\nflash-attn\n")
    _write(tmp_path, "base.list", "xformers\n")
    _write(tmp_path, "Dockerfile", "FROM pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime\n")
    first = run_cli("scan", ".", "-f", "json", cwd=tmp_path)[1]
    second = run_cli("scan", ".", "-f", "json", cwd=tmp_path)[1]
    assert first == second and len(json.loads(first)["findings"]) == 3
    (tmp_path / "requirements.txt").write_text("flash-attn\n")  # base.list is no longer included
    third = json.loads(run_cli("scan", ".", "-f", "json", cwd=tmp_path)[1])
    assert sorted(f["path"] for f in third["findings"]) == ["Dockerfile", "requirements.txt"]


def test_every_format_reports_manifest_positions(tmp_path, run_cli):
    _write(tmp_path, "requirements.txt", "numpy\n  torch==2.1.0+cu118\n")
    _, out, _ = run_cli("scan", ".", "-f", "sarif", cwd=tmp_path)
    (result,) = json.loads(out)["runs"][0]["results"]
    assert result["ruleId"] == "PT758" and "fixes" not in result
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 2, "startColumn": 3, "endLine": 2, "endColumn": 21}
    _, out, _ = run_cli("scan", ".", "-f", "github", cwd=tmp_path)
    assert out.startswith("::error file=requirements.txt,line=2,col=3,endLine=2,endColumn=21,title=PT758 cuda-torch-build::")
    _, out, _ = run_cli("scan", ".", "-f", "gitlab", cwd=tmp_path)
    (issue,) = json.loads(out)
    assert issue["location"]["positions"]["begin"] == {"line": 2, "column": 3}
    _, out, _ = run_cli("scan", ".", "-f", "csv", cwd=tmp_path)
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert (row["path"], row["line"], row["column"], row["code"], row["status"]) == ("requirements.txt", "2", "3", "PT758", "manual")
    _, out, _ = run_cli("scan", ".", "-f", "concise", cwd=tmp_path)
    assert out.startswith("requirements.txt:2:3: PT758")
    _, out, _ = run_cli("scan", ".", cwd=tmp_path)
    assert "requirements.txt:2:3  PT758     `torch==2.1.0+cu118` asks for a CUDA build of PyTorch" in out


def test_rewrite_reports_manifests_and_never_changes_them(tmp_path, run_cli):
    _write(tmp_path, "requirements.txt", "flash-attn\n")
    _write(tmp_path, "setup.py", "import torch\nfrom setuptools import setup\nx = torch.ones(1).cuda()\nsetup(name='d', install_requires=['xformers'])\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, out, err = run_cli("rewrite", ".", "--apply", "--allow-dirty", "-f", "json", cwd=tmp_path)
    summary = json.loads(out)["summary"]
    assert summary["manual"] == {"PT750": 1, "PT751": 1} and summary["fixed"] == {"PT001": 1}
    assert (tmp_path / "requirements.txt").read_bytes() == before["requirements.txt"]
    assert "install_requires=['xformers']" in (tmp_path / "setup.py").read_text()
    assert ".to(\"neuron\")" in (tmp_path / "setup.py").read_text()


TRICKY_TOML = (
    r"""
# a comment with "quotes" and [brackets]
title = "TOML # not a comment"
"quoted.key" = 'literal \n stays'
a.b."c.d" = "dotted"
when = 1979-05-27T07:32:00Z
numbers = [1, 2.5, -3e2, inf, 0x1F, 1_000]
nested = [["x", 'y'], [], [ "z" , ], ]
multi = QQQ
line one "quoted"
line two \QQQstill\QQQ endQQQ
raw = SSS
C:\path\with\backslashes #hash
SSS
escaped = "tab\there \u00e9 \"q\""
inline = { name = "n", deep = { key = "v" }, list = ["l1", "l2"] }
empty_string = ""

[table."with spaces"]
key = "in a quoted table"   # trailing comment

[[fruits]]
name = "apple"
[fruits.physical]
color = "red"
[[fruits.varieties]]
name = "red delicious"

[[fruits]]
name = "banana"
bools = [true, false]
"""
    .replace("QQQ", '"""')
    .replace("SSS", "'''")
)


def _flatten(value, path=()):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _flatten(item, (*path, i))


def test_the_toml_scanner_finds_every_string_tomllib_does():
    import tomllib

    from porttool.scan.manifests.toml_strings import check, strings

    assert check(TRICKY_TOML) == ""
    found, comments = strings(TRICKY_TOML)
    expected = dict(_flatten(tomllib.loads(TRICKY_TOML)))
    values = {s.path: s.value for s in found if not s.is_key}
    assert values == expected
    lines = TRICKY_TOML.splitlines()
    for s in found:  # positions point at the raw text between the quotes
        if "\n" not in s.raw:
            assert lines[s.line - 1][s.column : s.column + len(s.raw)] == s.raw
    assert [c for _, c in comments] == ['# a comment with "quotes" and [brackets]', "# trailing comment"]


def test_non_text_manifests_are_diagnostics(tmp_path, run_cli):
    (tmp_path / "requirements.txt").write_bytes(b"flash-attn\x00\x01\n")
    (tmp_path / "requirements-dev.txt").write_bytes("# caf\xe9\nflash-attn\n".encode("latin-1"))
    _, doc = _scan(run_cli, tmp_path)
    by_path = {d["path"]: d for d in doc["diagnostics"]}
    assert by_path["requirements.txt"]["code"] == "PT904" and "Python" not in by_path["requirements.txt"]["message"]
    assert by_path["requirements-dev.txt"]["code"] == "PT903" and "coding" not in by_path["requirements-dev.txt"]["message"]
