"""setup.cfg: `[options] install_requires`, `setup_requires`, `tests_require`, every key of
`[options.extras_require]` and `[options] dependency_links`, one requirement per line (the
value after `=`, then its indented continuation lines). Comments: lines starting with `#` or
`;`, and ` #` after a value.
"""

from __future__ import annotations

import re

from porttool.model import Span
from porttool.scan.manifests.entries import INDEX, Entry, Manifest
from porttool.scan.manifests.requirements import requirement_entry

SECTION = re.compile(r"^\[(?P<name>[^\]]+)\]\s*$")
KEY = re.compile(r"^(?P<key>[A-Za-z0-9_.-]+)\s*[=:]\s*")
REQUIREMENT_KEYS = {"install_requires", "setup_requires", "tests_require"}


def parse_setup_cfg(text: str) -> Manifest:
    entries: list[Entry] = []
    comments: list[tuple[int, str]] = []
    section = ""
    collecting: str | None = None  # "requirements" / "links" while inside such a value
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith(("#", ";")):
            comments.append((number, stripped))
            continue
        body = raw
        inline = re.search(r"\s#", raw)
        if inline:
            comments.append((number, raw[inline.start() + 1 :]))
            body = raw[: inline.start()]
        if not body.strip():
            continue
        header = SECTION.match(body.strip())
        if header:
            section, collecting = header.group("name").strip().lower(), None
            continue
        if raw[:1] in " \t" and collecting is not None:
            start = len(body) - len(body.lstrip())
            _add(entries, collecting, body.rstrip()[start:], number, start)
            continue
        key = KEY.match(body)
        collecting = None
        if key is None:
            continue
        name = key.group("key").lower().replace("-", "_")
        if (section == "options" and name in REQUIREMENT_KEYS) or section == "options.extras_require":
            collecting = "requirements"
        elif section == "options" and name == "dependency_links":
            collecting = "links"
        if collecting is not None:
            value = body[key.end() :].rstrip()
            if value.strip():
                _add(entries, collecting, value, number, key.end())
    return Manifest(tuple(entries), tuple(comments))


def _add(entries: list[Entry], what: str, text: str, line: int, column: int) -> None:
    if what == "links":
        entries.append(Entry(INDEX, text.strip(), Span(line, column, line, column + len(text.strip()))))
        return
    entry = requirement_entry(text, line, column)
    if entry is not None:
        entries.append(entry)
