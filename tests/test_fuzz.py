"""Property-based fuzzing of the rewrite engine: generated programs with real CUDA code spliced in.

Programs come from hypothesmith (random programs from Python's grammar) and the rule files' own
examples (real CUDA constructs), spliced into them at random top-level positions, nested in
functions, classes and blocks, indented with spaces or tabs, with LF or CRLF newlines. For every
target the port must not crash, must parse, must be a fixed point (a second rewrite changes
nothing) and must keep the file's newline style; a program without a CUDA construct stays
byte-identical, on disk too (encodings, BOM).

Two profiles: the default one is short and deterministic (CI); the long one runs >= 10,000
programs with fresh randomness each time:

    PORTTOOL_FUZZ=long python -m pytest tests/test_fuzz.py -p no:xdist --hypothesis-show-statistics
"""

from __future__ import annotations

import ast
import codecs
import os
import re
import tempfile
import textwrap
import warnings
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from porttool import model
from porttool.rewrite import run as rewrite_run
from porttool.scan import run as scan_run
from porttool.scan.discovery import Candidate
from porttool.model import TARGETS
from porttool.ruleset.registry import load_registry

LONG = os.environ.get("PORTTOOL_FUZZ", "").lower() == "long"
# Per-test example counts: the short profile keeps the whole file well under ~40 s on 2 cores; the
# long one sums to 10,000 programs over the five properties below.
SHORT_EXAMPLES = {"plain": 60, "valid": 40, "spliced": 45, "crlf": 20, "files": 20}
LONG_EXAMPLES = {"plain": 5000, "valid": 3000, "spliced": 1200, "crlf": 400, "files": 400}


def fuzz(kind: str) -> settings:
    return settings(
        max_examples=(LONG_EXAMPLES if LONG else SHORT_EXAMPLES)[kind],
        deadline=None,
        derandomize=not LONG,  # CI is reproducible; the long profile explores anew on every run
        database=None,  # no .hypothesis/ folder in the work tree; failures print a reproduction blob
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


REGISTRY = load_registry()


def _clean(snippet: str) -> str:
    return textwrap.dedent(snippet).strip("\n") + "\n"


def _no_sites(text: str) -> bool:
    try:
        return not scan_run.sites_in_text(text, REGISTRY)
    except SyntaxError:
        return False


def _has_sites(text: str) -> bool:
    try:
        return bool(scan_run.sites_in_text(text, REGISTRY))
    except SyntaxError:  # a `file` rule's example is not Python (a .cu kernel)
        return False


# Real CUDA constructs: every Python example `before` of every rule (~200 distinct snippets).
CUDA_SNIPPETS = sorted(s for s in {_clean(e.before) for rule in REGISTRY for e in rule.examples} if _has_sites(s))
# Code that must not match: the rules' `valid` snippets that no other rule matches either.
VALID_SNIPPETS = sorted(s for s in {_clean(v) for rule in REGISTRY for v in rule.valid} if _no_sites(s))

LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
WRAPPERS = (
    "def _fuzz_fn(a, *args, **kwargs):\n",
    "async def _fuzz_coro():\n",
    "class _FuzzClass:\n",
    "if __name__ == '__main__':\n",
    "for _fuzz_i in range(2):\n",
    "while False:\n",
    "with open(__file__) as _fuzz_f:\n",
    "try:\n",
)


def _parses(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


# One strategy object for the whole module: hypothesmith builds its Lark parser (~1.5 s) once per object.
# Its grammar emits things `ast` rejects now and then; keep the valid ones.
GENERATED_PROGRAMS = hypothesmith.from_grammar().filter(_parses)


def _generated_programs() -> st.SearchStrategy[str]:
    return GENERATED_PROGRAMS


LOOPS = ("for ", "while ")


@st.composite
def _nest(draw: st.DrawFn, snippet: str, loops: bool = True) -> str:
    """The snippet as is, or as the body of a function, class or block, indented with spaces or a tab."""
    depth = draw(st.integers(0, 2))
    indent_unit = draw(st.sampled_from(["    ", "  ", "\t"]))
    wrappers = [w for w in WRAPPERS if loops or not w.startswith(LOOPS)]
    for level in range(depth):
        header = draw(st.sampled_from(wrappers))
        body = textwrap.indent(snippet, indent_unit, lambda line: line.strip() != "")
        snippet = header + body + ("except Exception:\n" + indent_unit + "pass\n" if header == "try:\n" else "")
    return snippet


@st.composite
def _spliced(draw: st.DrawFn, snippets: list[str], most: int = 3, loops: bool = True) -> str:
    """A generated program with 1..`most` snippets inserted between its top-level statements."""
    base = draw(_generated_programs())
    if not base.endswith(("\n", "\r")):
        base += "\n"
    lines = LINE.findall(base)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = ast.parse(base)
    # a statement's first line is a safe cut; so is the end (never before `from __future__`)
    cuts = sorted({s.lineno - 1 for s in module.body if not (isinstance(s, ast.ImportFrom) and s.module == "__future__")} | {len(lines)})
    future = [s.end_lineno or 0 for s in module.body if isinstance(s, ast.ImportFrom) and s.module == "__future__"]
    cuts = [c for c in cuts if c >= max(future, default=0)]
    inserts: dict[int, list[str]] = {}
    for _ in range(draw(st.integers(1, most))):
        snippet = draw(_nest(draw(st.sampled_from(snippets)), loops))
        inserts.setdefault(draw(st.sampled_from(cuts)), []).append(snippet)
    out: list[str] = []
    for i in range(len(lines) + 1):
        out += inserts.get(i, [])
        if i < len(lines):
            out.append(lines[i])
    program = "".join(out)
    assume(_parses(program))
    return program


def _check_port(text: str, target: str, *, unsafe: bool, mark_unfixed: bool) -> str:
    """Port `text`; assert the port parses and is a fixed point. Returns the port."""
    result = rewrite_run.port_text(text, REGISTRY, target, unsafe=unsafe, mark_unfixed=mark_unfixed)
    if currently_in_test_context():
        note(f"{target} port:\n{result.text}")
        event(f"{target}: {'ported' if result.text != text else 'left unchanged (nothing safe to fix, or verification refused)'}")
    assert _parses(result.text), f"{target}: the port does not parse"
    if result.text == text:
        assert not result.applied and not result.marked, f"{target}: fixes reported but the text did not change"
    again = rewrite_run.port_text(result.text, REGISTRY, target, unsafe=unsafe, mark_unfixed=mark_unfixed)
    assert again.text == result.text, f"{target}: a second rewrite changed the port (not idempotent)"
    return result.text


@fuzz("plain")
@given(program=_generated_programs(), unsafe=st.booleans(), mark_unfixed=st.booleans())
def test_generated_programs_without_cuda_are_byte_identical(program: str, unsafe: bool, mark_unfixed: bool) -> None:
    if not _no_sites(program):  # vanishingly rare: a generated program that uses CUDA
        return
    for target in TARGETS:
        assert rewrite_run.port_text(program, REGISTRY, target, unsafe=unsafe, mark_unfixed=mark_unfixed).text == program


@fuzz("valid")
@given(program=_spliced(VALID_SNIPPETS, most=1, loops=False), mark_unfixed=st.booleans())
def test_valid_rule_code_spliced_into_programs_is_not_matched_or_changed(program: str, mark_unfixed: bool) -> None:
    # the rules' must-not-match code stays unmatched whatever generated code surrounds it. One
    # snippet a program: two can interact (one's import re-binds a name the other calls); and not
    # inside a loop, where `.item()` rightly becomes a host-sync hint
    assert scan_run.sites_in_text(program, REGISTRY) == ()
    for target in TARGETS:
        assert rewrite_run.port_text(program, REGISTRY, target, unsafe=True, mark_unfixed=mark_unfixed).text == program


@fuzz("spliced")
@given(program=_spliced(CUDA_SNIPPETS), unsafe=st.booleans(), mark_unfixed=st.booleans())
def test_spliced_cuda_programs_port_to_parsing_fixed_points(program: str, unsafe: bool, mark_unfixed: bool) -> None:
    assert scan_run.sites_in_text(program, REGISTRY), "a spliced program must contain CUDA code"
    for target in TARGETS:
        _check_port(program, target, unsafe=unsafe, mark_unfixed=mark_unfixed)


def _only_crlf(text: str) -> bool:
    return "\n" not in text.replace("\r\n", "") and "\r" not in text.replace("\r\n", "")


@fuzz("crlf")
@given(program=_spliced(CUDA_SNIPPETS), unsafe=st.booleans(), mark_unfixed=st.booleans())
def test_crlf_programs_keep_crlf_after_a_port(program: str, unsafe: bool, mark_unfixed: bool) -> None:
    assume("\r" not in program)
    crlf = program.replace("\n", "\r\n")
    assume(_parses(crlf))
    for target in TARGETS:
        port = _check_port(crlf, target, unsafe=unsafe, mark_unfixed=mark_unfixed)
        assert _only_crlf(port), f"{target}: the port mixes newline styles"


ENCODINGS = st.sampled_from(["utf-8", "utf-8-bom", "latin-1"])


@fuzz("files")
@given(
    # mostly CUDA programs (two branches of three), some without any
    program=st.one_of(_spliced(CUDA_SNIPPETS, most=2), _spliced(CUDA_SNIPPETS, most=1), _spliced(VALID_SNIPPETS, most=1, loops=False)),
    encoding=ENCODINGS,
    newline=st.sampled_from(["\n", "\r\n"]),
    target=st.sampled_from(TARGETS),
    unsafe=st.booleans(),
)
def test_files_keep_encoding_bom_and_newlines_through_rewrite_one(program: str, encoding: str, newline: str, target: str, unsafe: bool) -> None:
    assume("\r" not in program)
    text = program.replace("\n", newline)
    if encoding == "latin-1":
        text = "# -*- coding: latin-1 -*-" + newline + text
        try:
            raw = text.encode("latin-1")
        except UnicodeEncodeError:
            assume(False)
            return
    else:
        raw = (codecs.BOM_UTF8 if encoding == "utf-8-bom" else b"") + text.encode("utf-8", "surrogatepass")
    assume(_parses_bytes(raw))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.py"
        path.write_bytes(raw)
        # TODO markers too: inserted comment lines must take the file's newline and encoding
        options = rewrite_run.RewriteOptions(scan_run.ScanOptions(registry=REGISTRY, target=target, root=tmp), unsafe=unsafe, mark_unfixed=True)
        result = rewrite_run.rewrite_one(Candidate(path, explicit=True), options)
        assert path.read_bytes() == raw, "rewrite_one must not write"
    assert not any(d.code in ("PT901", "PT903", "PT904") for d in result.diagnostics), result.diagnostics
    if not result.sites:
        event("file without CUDA code")
        assert not result.changed and not result.diagnostics
        return
    if not result.changed:
        event("file with CUDA code, nothing fixed")
        return
    event(f"file ported ({encoding}, {'CRLF' if newline == chr(13) + chr(10) else 'LF'})")
    assert result.rewritten is not None
    # what `--apply` would write: the port in the file's own encoding, BOM and newlines
    from porttool.scan.sources import read_source

    with tempfile.TemporaryDirectory() as tmp:
        source = read_source(_write(Path(tmp) / "f.py", raw), "f.py")
    assert not isinstance(source, model.Diagnostic)
    data = source.encode(result.rewritten)
    assert data.startswith(codecs.BOM_UTF8) == (encoding == "utf-8-bom")
    assert _parses_bytes(data), "the written port does not parse"
    decoded = data.decode("latin-1" if encoding == "latin-1" else "utf-8-sig")
    if newline == "\r\n":
        assert _only_crlf(decoded), "a CRLF file gained LF newlines"
    else:
        assert "\r" not in decoded, "an LF file gained CR newlines"
    if encoding == "latin-1":
        assert decoded.startswith("# -*- coding: latin-1 -*-"), "the coding cookie must stay on the first line"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _parses_bytes(data: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def test_snippet_pools_are_real() -> None:
    """The splice pools are the rule files' examples: many, and each one parses and matches (or not)."""
    assert len(CUDA_SNIPPETS) >= 100 and len(VALID_SNIPPETS) >= 50
    assert all(scan_run.sites_in_text(s, REGISTRY) for s in CUDA_SNIPPETS)
    codes = {site.code for s in CUDA_SNIPPETS for site in scan_run.sites_in_text(s, REGISTRY)}
    python_rules = [r for r in REGISTRY.rules if r.match["kind"] not in ("file", "manifest")]  # (.cu files, dependency manifests: no Python example)
    assert len(codes) >= len(python_rules) - 2  # nearly every rule


@pytest.mark.parametrize("target", TARGETS)
def test_every_example_spliced_after_a_generated_preamble_ports_soundly(target: str) -> None:
    """A deterministic sweep the random tests may miss: each CUDA example nested in a function."""
    preamble = "import os\nimport sys as _sys\n\n\ndef helper(x, *a, **k):\n    return x\n\n\n"
    for snippet in CUDA_SNIPPETS:
        program = preamble + "def _wrapped():\n" + textwrap.indent(snippet, "    ", lambda line: line.strip() != "")
        if not _parses(program):
            continue
        _check_port(program, target, unsafe=True, mark_unfixed=False)


@pytest.mark.parametrize("target", TARGETS)
def test_marking_the_first_statement_of_a_module_is_idempotent(target: str) -> None:
    """Found by this fuzzer: a TODO marker above a module's first statement lands in libcst's module
    header, was not seen as present, and every verification pass stacked another one (~15 s a file)."""
    program = "from nvidia.dali import pipeline_def\nimport pynvml\n"
    port = rewrite_run.port_text(program, REGISTRY, target, mark_unfixed=True)
    assert port.text.count("# porttool: TODO(PT710)") == 2 and not port.rejected
    assert rewrite_run.port_text(port.text, REGISTRY, target, mark_unfixed=True).text == port.text
