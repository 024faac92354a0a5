"""`# porttool: ignore[PT001] -- reason` and `# porttool: skip-file` comments.

A suppression applies to findings that start on its own line or on the line below it. Comments
are found with the tokenizer (so a `#` inside a string is never taken for one), and only in files
that mention `porttool:` at all.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

DIRECTIVE = re.compile(r"#\s*porttool:\s*(?P<verb>ignore|skip-file|TODO)(?:\[(?P<codes>[A-Z0-9,\s]*)\]|\((?P<todo>PT\d{3})\))?", re.I)
MARKER_PREFIX = "# porttool: TODO"


@dataclass(frozen=True)
class Suppressions:
    skip_file: bool = False
    by_line: dict[int, frozenset[str] | None] = field(default_factory=dict)  # None = every code
    markers: dict[int, frozenset[str]] = field(default_factory=dict)  # TODO markers by line

    def suppresses(self, code: str, line: int) -> bool:
        for candidate in (line, line - 1):
            if candidate in self.by_line:
                codes = self.by_line[candidate]
                if codes is None or code in codes:
                    return True
        return False


def parse_suppressions(text: str) -> Suppressions:
    if "porttool:" not in text:
        return Suppressions()
    skip_file = False
    by_line: dict[int, frozenset[str] | None] = {}
    markers: dict[int, set[str]] = {}
    for line, comment in _comments(text):
        m = DIRECTIVE.search(comment)
        if not m:
            continue
        verb = m.group("verb").lower()
        if verb == "skip-file":
            skip_file = True
        elif verb == "todo" and m.group("todo"):
            markers.setdefault(line, set()).add(m.group("todo").upper())
        elif verb == "ignore":
            codes = m.group("codes")
            if codes is None or not codes.strip():
                by_line[line] = None
            else:
                by_line[line] = frozenset(c.strip().upper() for c in codes.split(",") if c.strip())
    return Suppressions(skip_file, by_line, {k: frozenset(v) for k, v in markers.items()})


def _comments(text: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                found.append((tok.start[0], tok.string))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        # fall back to a line-based read for sources the tokenizer rejects
        for number, line in enumerate(text.splitlines(), start=1):
            if "#" in line:
                found.append((number, line[line.index("#") :]))
    return found
