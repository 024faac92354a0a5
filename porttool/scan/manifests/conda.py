"""A conda environment file (environment.yml), read line by line for the two lists it holds:

    channels: [pytorch, nvidia]       # or one `- name` per line
    dependencies:
      - pytorch-cuda=11.8             # a conda spec: [channel::]name[=version[=build]]
      - nvidia::cuda-toolkit          # `channel::` adds that channel too
      - pip:
          - flash-attn==2.5.8         # pip requirements (and pip options: --extra-index-url ...)

Items may be quoted; `#` after whitespace starts a comment. This is not a YAML parser: anchors,
multi-line scalars and other top-level keys are skipped, never misread as dependencies.
"""

from __future__ import annotations

import re

from porttool.model import Span
from porttool.scan.manifests.entries import CHANNEL, PACKAGE, Entry, Manifest
from porttool.scan.manifests.requirements import option_entries, requirement_entry, tokens_of

TOP_KEY = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_-]*)\s*:\s*(?P<rest>.*)$")
ITEM = re.compile(r"^(?P<indent>\s*)-\s+(?P<item>.*)$")
CONDA_SPEC = re.compile(r"(?:(?P<channel>[A-Za-z0-9_./-]+)::)?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.+-]*)(?P<version>.*)$")


def _comment_at(line: str) -> int:
    """Where a `#` comment starts (outside quotes, at the start or after whitespace), or -1."""
    quote = ""
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return i
    return -1


def _unquote(text: str, column: int) -> tuple[str, int]:
    text = text.rstrip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1], column + 1
    return text, column


def parse_environment(text: str) -> Manifest:
    entries: list[Entry] = []
    comments: list[tuple[int, str]] = []
    section = ""
    pip_indent: int | None = None  # the indentation of `- pip:` while its list is read
    for number, raw in enumerate(text.splitlines(), start=1):
        cut = _comment_at(raw)
        if cut >= 0:
            comments.append((number, raw[cut:]))
            raw = raw[:cut]
        if not raw.strip():
            continue
        top = TOP_KEY.match(raw)
        if top and not raw[:1].isspace():
            section, pip_indent = top.group("key"), None
            rest = top.group("rest").strip()
            if rest.startswith("[") and rest.endswith("]"):  # flow style: `channels: [a, b]`
                start = raw.index("[") + 1
                for m in re.finditer(r"[^,\[\]]+", raw[start : raw.rindex("]")]):
                    flow, column = _unquote(m.group(0).strip(), start + m.start() + len(m.group(0)) - len(m.group(0).lstrip()))
                    _item(entries, section, flow, number, column, pip=False)
            continue
        listed = ITEM.match(raw)
        if listed is None:
            continue
        indent = len(listed.group("indent"))
        value, column = _unquote(listed.group("item"), listed.start("item"))
        if pip_indent is not None and indent <= pip_indent:
            pip_indent = None
        if section == "dependencies" and value.rstrip().replace('"', "").replace("'", "") == "pip:":
            pip_indent = indent
            continue
        _item(entries, section, value, number, column, pip=pip_indent is not None)
    return Manifest(tuple(entries), tuple(comments))


def _item(entries: list[Entry], section: str, item: str, line: int, column: int, *, pip: bool) -> None:
    if not item:
        return
    if section == "channels" and not pip:
        entries.append(Entry(CHANNEL, item, Span(line, column, line, column + len(item)), installer="conda"))
        return
    if section != "dependencies":
        return
    if pip:
        if item.startswith("-"):
            found, _, _ = option_entries(tokens_of(item, column), line)
            entries += found
        else:
            entry = requirement_entry(item, line, column)
            if entry is not None:
                entries.append(entry)
        return
    spec = CONDA_SPEC.match(item)
    if spec is None:
        return
    if spec.group("channel"):
        channel_end = column + spec.end("channel")
        entries.append(Entry(CHANNEL, spec.group("channel"), Span(line, column, line, channel_end), installer="conda"))
    entries.append(Entry(PACKAGE, spec.group("name"), Span(line, column + spec.start("name"), line, column + len(item.rstrip())), spec.group("version").strip(), installer="conda"))
