"""`# porttool: ignore[PT001] -- reason`, `# noqa: PT001` and `# porttool: skip-file` comments.

A suppression applies to findings that start on its own line or on the line below it. Comments
are found with the tokenizer (so a `#` inside a string is never taken for one), and only in files
that mention `porttool:` or `noqa` at all.

`# noqa: PT001,E501` (flake8's and ruff's spelling, any case, codes separated by commas or spaces)
silences the PT codes it names on its own line (as flake8 reads it; not the line below). A bare `# noqa` does not silence porttool: it was written for
another linter (usually flake8, for a long line), and taking it as "ignore every porttool rule"
would hide CUDA code nobody meant to hide; `# porttool: ignore` without codes is the explicit way.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field

DIRECTIVE = re.compile(r"#\s*porttool:\s*(?P<verb>ignore|skip-file|TODO)(?:\[(?P<codes>[A-Z0-9,\s]*)\]|\((?P<todo>PT\d{3})\))?", re.I)
MARKER_PREFIX = "# porttool: TODO"
NOQA = re.compile(r"#\s*noqa\s*:\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*)", re.I)
PT_CODE = re.compile(r"^PT[0-9]{3}$")
NOQA_PT = re.compile(r"noqa\s*:[^\r\n]*PT[0-9]{3}", re.I)  # a noqa comment naming a porttool code


@dataclass(frozen=True)
class Suppressions:
    skip_file: bool = False
    by_line: dict[int, frozenset[str] | None] = field(default_factory=dict)  # None = every code
    markers: dict[int, frozenset[str]] = field(default_factory=dict)  # TODO markers by line
    noqa: dict[int, frozenset[str]] = field(default_factory=dict)  # `# noqa: PTnnn`: its own line only

    def suppresses(self, code: str, line: int) -> bool:
        if line in self.noqa and code in self.noqa[line]:
            return True
        for candidate in (line, line - 1):
            if candidate in self.by_line:
                codes = self.by_line[candidate]
                if codes is None or code in codes:
                    return True
        return False


def parse_suppressions(text: str) -> Suppressions:
    if "porttool:" not in text and not (("noqa" in text or "NOQA" in text) and NOQA_PT.search(text)):
        return Suppressions()  # (most files; a `# noqa` for another linter costs a regex search, not a tokenize)
    return suppressions_in_comments(_comments(text))


def suppressions_in_comments(comments: Iterable[tuple[int, str]]) -> Suppressions:
    """The suppressions in (line, comment text) pairs: a Python file's comments, or those a
    manifest's parser found (requirements, TOML, YAML, Dockerfile: `#` comments)."""
    skip_file = False
    by_line: dict[int, frozenset[str] | None] = {}
    markers: dict[int, set[str]] = {}
    noqa: dict[int, frozenset[str]] = {}
    for line, comment in comments:
        found = NOQA.search(comment)
        if found:
            named = frozenset(c.upper() for c in re.split(r"[\s,]+", found.group("codes")) if PT_CODE.match(c.upper()))
            if named:
                noqa[line] = noqa.get(line, frozenset()) | named
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
                earlier = by_line.get(line, frozenset())
                listed = frozenset(c.strip().upper() for c in codes.split(",") if c.strip())
                by_line[line] = None if earlier is None else earlier | listed
    return Suppressions(skip_file, by_line, {k: frozenset(v) for k, v in markers.items()}, noqa)


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
