"""pip requirements and constraints files, and the one requirement parser every manifest uses.

A requirements file, line by line as pip reads it: `#` starts a comment at the start of a line
or after whitespace (`pkg @ https://host/x#egg=y` keeps its fragment); a line ending in `\\` goes
on (the continuation holds options such as `--hash`, never a second requirement); options are
`-r/--requirement` and `-c/--constraint` (other files, followed by discovery), `-i/--index-url`,
`--extra-index-url`, `-f/--find-links` (index entries) and `-e/--editable` (a package when its URL
names one with `#egg=`); everything else is one requirement (PEP 508: name, extras, version or
`@ url`, markers), or a direct URL or path to a wheel, whose file name gives the package and
its version.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from porttool.model import Span
from porttool.scan.manifests.entries import INDEX, PACKAGE, Entry, Manifest

NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
INDEX_OPTIONS = {"-i": "index", "--index-url": "index", "--extra-index-url": "index", "-f": "index", "--find-links": "index"}
INCLUDE_OPTIONS = {"-r", "--requirement", "-c", "--constraint"}
EDITABLE_OPTIONS = {"-e", "--editable"}
WHEEL = re.compile(r"(?:^|/)(?P<name>[A-Za-z0-9][A-Za-z0-9_.]*)-(?P<version>[^-/]+)-[^/]*\.whl$")
COMMENT = re.compile(r"(?:^|\s)#")
_SHORT = {o for o in (*INDEX_OPTIONS, *INCLUDE_OPTIONS, *EDITABLE_OPTIONS) if len(o) == 2}


def requirement_entry(text: str, line: int, column: int, installer: str = "pip") -> Entry | None:
    """One PEP 508 requirement written at `line`/`column` (its first character) → a package
    entry spanning name to version (or URL), markers and trailing space left out; None when the
    text is not a requirement (an option, a path, empty)."""
    start = len(text) - len(text.lstrip())
    first = text[start:].split(None, 1)[0] if text[start:].strip() else ""
    if "://" in first.split("@", 1)[0] or first.startswith((".", "/", "~")) or first.endswith(".whl"):
        return _direct_reference(text, line, column, installer)  # a URL or a path, not a name
    m = NAME.match(text, start)
    if m is None:
        return None
    end = m.end()
    extras = re.match(r"\s*\[[^\]]*\]", text[end:])
    if extras:
        end += extras.end()
    body = text[end:]
    marker = body.find(";")
    spec = body if marker < 0 else body[:marker]
    if spec.lstrip().startswith("@"):
        # `name @ url`: up to the first whitespace after the URL (a marker needs one before `;`)
        at = end + spec.index("@")
        url = re.match(r"@\s*(\S+)", text[at:])
        version = text[at : at + url.end()] if url else "@"
        finish = at + (url.end() if url else 1)
    else:
        version = spec.rstrip()
        if not re.fullmatch(r"\s*(?:\(?\s*(?:[<>=!~]=?|===)\s*[^\s,;()]+\s*(?:,\s*(?:[<>=!~]=?|===)\s*[^\s,;()]+\s*)*\)?)?\s*", version):
            return None  # not a version specifier: not a requirement (free text, a pip option)
        finish = end + len(version)
        version = version.strip()
    return Entry(PACKAGE, m.group(0), Span(line, column + start, line, column + finish), version, installer)


def _direct_reference(text: str, line: int, column: int, installer: str) -> Entry | None:
    """A wheel URL or path (`https://host/torch-2.1.0%2Bcu118-cp310-...whl`), or a VCS URL with
    `#egg=name`: a package entry over the whole reference, named from the wheel or the egg."""
    start = len(text) - len(text.lstrip())
    token = text[start:].split()[0] if text[start:].split() else ""
    if not token:
        return None
    wheel = WHEEL.search(unquote(token.split("#", 1)[0].split("?", 1)[0]))
    egg = re.search(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)", token)
    if wheel is None and egg is None:
        return None
    name = wheel.group("name") if wheel is not None else egg.group(1)  # type: ignore[union-attr]
    version = f"=={wheel.group('version')} @ {token}" if wheel is not None else f"@ {token}"
    return Entry(PACKAGE, name, Span(line, column + start, line, column + start + len(token)), version, installer)


def option_entries(tokens: list[tuple[str, int]], line: int, installer: str = "pip") -> tuple[list[Entry], list[str], bool]:
    """pip options among `tokens` ((text, column) pairs of one command line or requirements line):
    index entries, the files named by -r/-c, and whether the tokens were options at all."""
    entries: list[Entry] = []
    includes: list[str] = []
    was_option = False
    i = 0
    while i < len(tokens):
        token, col = tokens[i]
        option, eq, value = token.partition("=")
        value_col = col + len(option) + 1
        if len(token) > 2 and token[1] != "-" and token[:2] in _SHORT:  # `-rbase.txt`, `-ihttps://...`
            option, eq = token[:2], "="
            value = token[2:]
            value_col = col + 2 + (len(value) - len(value.lstrip("=")))
            value = value.lstrip("=")
        if option in INDEX_OPTIONS or option in INCLUDE_OPTIONS or option in EDITABLE_OPTIONS:
            was_option = True
            if not eq:
                if i + 1 >= len(tokens):
                    break
                value, value_col = tokens[i + 1]
                i += 1
            if option in INDEX_OPTIONS:
                entries.append(Entry(INDEX, value, Span(line, value_col, line, value_col + len(value)), installer=installer))
            elif option in INCLUDE_OPTIONS:
                includes.append(value)
            else:
                editable = _direct_reference(value, line, value_col, installer)
                if editable is not None:
                    entries.append(editable)
        elif token.startswith("-"):
            was_option = True
        i += 1
    return entries, includes, was_option


def tokens_of(text: str, column: int = 0) -> list[tuple[str, int]]:
    """Whitespace-separated tokens of `text` with their columns (quotes are not special here)."""
    return [(m.group(0), column + m.start()) for m in re.finditer(r"\S+", text)]


def parse_requirements_file(text: str) -> Manifest:
    entries: list[Entry] = []
    comments: list[tuple[int, str]] = []
    includes: list[str] = []
    continued = False
    for number, raw in enumerate(text.splitlines(), start=1):
        comment = COMMENT.search(raw)
        body = raw
        if comment is not None:
            at = raw.index("#", comment.start())
            comments.append((number, raw[at:]))
            body = raw[:at]
        was_continued, continued = continued, body.rstrip().endswith("\\")
        if continued:
            body = body.rstrip()[:-1]
        if not body.strip():
            continue
        stripped = body.lstrip()
        if stripped.startswith("-"):
            found, named, _ = option_entries(tokens_of(body), number)
            entries += found
            includes += named
            continue
        if was_continued:
            continue  # the rest of a requirement (its --hash options)
        requirement_text = body
        hashes = re.search(r"\s--?[a-z]", body)  # per-requirement options (`--hash=...`) end the requirement
        if hashes:
            requirement_text = body[: hashes.start()]
        entry = requirement_entry(requirement_text, number, 0)
        if entry is not None:
            entries.append(entry)
    return Manifest(tuple(entries), tuple(comments), tuple(includes))


def included_files(text: str) -> list[str]:
    """The files a requirements text names with -r/--requirement/-c/--constraint (cheap: for
    discovery, without building entries)."""
    found = []
    for m in re.finditer(r"^[ \t]*(?:-r|--requirement|-c|--constraint)(?:[ \t]*=[ \t]*|[ \t]+|(?=[^ \t\r\n-]))([^ \t\r\n#]+)", text, re.M):
        found.append(m.group(1))
    return found
