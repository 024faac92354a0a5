"""Recall of `porttool scan` against an independent grep-style count of CUDA-specific lines.

A line counts as CUDA-specific when a code token on it (a name, attribute or a one-word string;
never a comment, a docstring or prose such as a help text or log message) mentions `cuda`, `cudnn`,
`nccl` or `nvtx` in any case (so `CUDA_VISIBLE_DEVICES`, `"NCCL"`, `"torch.cuda.HalfTensor"` and
`"cuda:nccl,cpu:gloo"` count), names a CUDA-only library (flash_attn, xformers, apex, bitsandbytes,
cupy, pynvml, triton), or names a CUDA-only feature reached through another API: FP8
`torch._scaled_mm`, `attn_implementation="flash_attention_2"`, the SDPA kernel switches
(`sdp_kernel`, `enable_flash_sdp`, ...), or `pin_memory` (any use not spelled `pin_memory=False` or `"pin_memory": False`).
The line is covered when `porttool scan` reports a finding whose span includes it.

    python benchmarks/coverage.py PATH... [--json OUT] [--show-missed N]

Prints the recall and the missed lines, so each miss can be read and judged.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tokenize
from pathlib import Path

CUDA_TOKEN = re.compile(r"cuda|cudnn|nccl|nvtx|flash_attn|xformers|\bapex\b|bitsandbytes|\bcupy\b|pynvml|\btriton\b", re.I)
# CUDA-only features whose spelling says nothing about CUDA (the shapes of issue 16)
CUDA_FEATURE = re.compile(r"^(_scaled_mm|_scaled_grouped_mm|flash_attention_[23]|sdp_kernel|enable_(flash|mem_efficient|math|cudnn)_sdp|pin_memory)$")
PIN_MEMORY_OFF = re.compile(r"""pin_memory["']?\s*[=:]\s*False\b""")


def cuda_lines(path: Path) -> set[int]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    lines: set[int] = set()
    previous_significant = None
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return set()
    for tok in tokens:
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            if tok.type == tokenize.NEWLINE:
                previous_significant = tokenize.NEWLINE
            continue
        is_docstring = tok.type == tokenize.STRING and previous_significant in (None, tokenize.NEWLINE, tokenize.INDENT)
        previous_significant = tok.type
        if is_docstring or tok.type not in (tokenize.NAME, tokenize.STRING, tokenize.FSTRING_MIDDLE if hasattr(tokenize, "FSTRING_MIDDLE") else -1):
            continue
        if tok.type == tokenize.STRING and re.search(r"\s", tok.string):
            continue  # prose (a help text, a log message): words about CUDA, not CUDA code
        if CUDA_TOKEN.search(tok.string) or _names_feature(tok):
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines


# What a missed line looks like, to read the misses by shape (first match wins; only a summary)
SHAPES = [
    ("environment variable", re.compile(r"\b(CUDA|NCCL|CUBLAS)_[A-Z_]+|_CUDA_", re.I)),
    ("cuda module as a value", re.compile(r"torch\.(cuda|backends\.cudnn|backends\.cuda)\b(?!\.)")),
    ("dotted name in a string", re.compile(r"""["']torch\.(cuda|backends)\.""")),
    ("backend flag", re.compile(r"torch\.backends\.(cudnn|cuda)\.")),
    ("backend string", re.compile(r"""["'][^"']*nccl[^"']*["']""", re.I)),
    ("device-string parsing", re.compile(r"""["']cuda:["']""")),
    ("feature through another API", re.compile(r"_scaled_mm|flash_attention_[23]|sdp_kernel|_sdp\b|pin_memory")),
    ("CUDA-only library", re.compile(r"flash_attn|xformers|\bapex\b|bitsandbytes|\bcupy\b|pynvml|\btriton\b", re.I)),
    ("name spelling cuda", re.compile(r"\w*cuda\w*|\w*cudnn\w*|\w*nccl\w*", re.I)),
]


def shape_of(text: str) -> str:
    return next((name for name, pattern in SHAPES if pattern.search(text)), "other")


def _names_feature(tok: tokenize.TokenInfo) -> bool:
    word = tok.string.strip("\"'") if tok.type == tokenize.STRING else tok.string
    if not CUDA_FEATURE.match(word):
        return False
    return word != "pin_memory" or not PIN_MEMORY_OFF.search(tok.line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--json", type=Path, help="write the numbers here")
    parser.add_argument("--show-missed", type=int, default=40)
    args = parser.parse_args()
    scan = subprocess.run(
        [sys.executable, "-m", "porttool", "scan", *map(str, args.paths), "--select", "ALL", "--output-format", "json", "--exit-zero"],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(scan.stdout)
    covered: dict[str, set[int]] = {}
    for f in report["findings"]:
        covered.setdefault(f["path"], set()).update(range(f["line"], f["end_line"] + 1))
    flagged = 0
    missed: list[tuple[str, int, str]] = []
    for root in args.paths:
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for path in files:
            rel = path.as_posix()
            hits = cuda_lines(path)
            flagged += len(hits)
            source = path.read_text(encoding="utf-8", errors="replace").splitlines()
            for line in sorted(hits):
                if line not in covered.get(rel, set()):
                    missed.append((rel, line, source[line - 1].strip() if line <= len(source) else ""))
    recall = 100.0 if flagged == 0 else 100.0 * (flagged - len(missed)) / flagged
    print(f"grep-flagged CUDA lines: {flagged}; reported by porttool: {flagged - len(missed)}; recall {recall:.2f}%")
    by_shape: dict[str, int] = {}
    for _, _, text in missed:
        by_shape[shape_of(text)] = by_shape.get(shape_of(text), 0) + 1
    if by_shape:
        print("missed by shape: " + ", ".join(f"{name} {count}" for name, count in sorted(by_shape.items(), key=lambda kv: -kv[1])))
    for rel, line, text in missed[: args.show_missed]:
        print(f"  missed {rel}:{line}: {text}")
    if args.json:
        args.json.write_text(json.dumps({"flagged": flagged, "missed": len(missed), "recall": recall, "missed_by_shape": by_shape, "missed_lines": missed}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
