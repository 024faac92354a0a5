"""Jupyter notebooks: scan and port the code cells; leave everything else byte-identical.

The code cells are joined into one virtual module (so imports in an early cell resolve names in
later ones), separated by marker comments; IPython magics and shell escapes become marker
comments too. After a rewrite the virtual module is split back at the markers and only the
changed cells' `source` fields are replaced in the original JSON text, so outputs, metadata and
markdown cells keep their exact bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

CELL_MARKER = "# %% porttool-cell {index}"
CELL_MARKER_RE = re.compile(r"^# %% porttool-cell (\d+)$", re.M)
MAGIC_PREFIX = "#porttool-magic:"
MAGIC_RE = re.compile(r"^(\s*)([%!?].*)$")


class NotebookError(Exception):
    """The notebook cannot be read or written safely; the message says why."""


@dataclass(frozen=True)
class VirtualModule:
    source: str
    line_map: tuple[tuple[int, int], ...]  # virtual line (1-based) - 1 → (cell index, line in cell)

    def cell_of_line(self, line: int) -> tuple[int | None, int]:
        if 0 < line <= len(self.line_map):
            cell, cell_line = self.line_map[line - 1]
            return cell, cell_line
        return None, line


def _load(text: str) -> dict:  # type: ignore[type-arg]
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"not valid notebook JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError("not a Jupyter notebook (no 'cells' list)")
    return nb


def _cell_text(cell: dict) -> str:  # type: ignore[type-arg]
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def to_virtual(text: str) -> VirtualModule:
    nb = _load(text)
    lines: list[str] = []
    line_map: list[tuple[int, int]] = []
    for index, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        lines.append(CELL_MARKER.format(index=index))
        line_map.append((index, 0))
        for number, line in enumerate(_cell_text(cell).split("\n"), start=1):
            magic = MAGIC_RE.match(line)
            if magic:
                line = f"{magic.group(1)}{MAGIC_PREFIX}{magic.group(2)}"
            lines.append(line)
            line_map.append((index, number))
    return VirtualModule("\n".join(lines) + "\n", tuple(line_map))


def from_virtual(original: str, new_source: str) -> str:
    """The original notebook text with its code cells replaced by the ported virtual module."""
    nb = _load(original)
    pieces = CELL_MARKER_RE.split(new_source)
    head, rest = pieces[0], pieces[1:]
    ported: dict[int, str] = {}
    for i in range(0, len(rest), 2):
        ported[int(rest[i])] = rest[i + 1]
    if not ported:
        raise NotebookError("the ported notebook lost its cell markers; left unchanged")
    first = min(ported)
    if head.strip():
        ported[first] = "\n" + head.rstrip("\n") + ported[first]
    replacements: dict[int, str] = {}
    for index, body in ported.items():
        if body.startswith("\n"):
            body = body[1:]
        body = body[:-1] if body.endswith("\n") else body
        body = "\n".join(_restore_magic(line) for line in body.split("\n"))
        cell = nb["cells"][index]
        if body != _cell_text(cell):
            replacements[index] = body
    if not replacements:
        return original
    return _replace_sources(original, nb, replacements)


def _restore_magic(line: str) -> str:
    stripped = line.lstrip()
    if stripped.startswith(MAGIC_PREFIX):
        return line[: len(line) - len(stripped)] + stripped[len(MAGIC_PREFIX) :]
    return line


def _replace_sources(original: str, nb: dict, replacements: dict[int, str]) -> str:  # type: ignore[type-arg]
    """Re-serialise in the notebook's own JSON style, and only if that style round-trips exactly."""
    for style in _styles(original):
        if _dump(nb, style) == original:
            for index, body in replacements.items():
                cell = nb["cells"][index]
                if isinstance(cell.get("source"), list):
                    cell["source"] = body.splitlines(keepends=True)
                else:
                    cell["source"] = body
            return _dump(nb, style)
    raise NotebookError("the notebook's JSON layout is not one porttool can reproduce byte for byte; left unchanged")


def _styles(original: str) -> list[tuple[int | None, bool, bool, bool]]:
    indent_match = re.search(r"^\{\n( +)\"", original)
    indents = [len(indent_match.group(1))] if indent_match else [1, 2, 4, None]
    return [(indent, sort, ascii_, original.endswith("\n")) for indent in indents for sort in (True, False) for ascii_ in (False, True)]


def _dump(nb: dict, style: tuple[int | None, bool, bool, bool]) -> str:  # type: ignore[type-arg]
    indent, sort_keys, ensure_ascii, newline = style
    text = json.dumps(nb, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
    return text + "\n" if newline else text
