"""The strings of a TOML document with where they are: each string value and each key, with its
path (tables, dotted keys, array indices, inline tables) and exact position, plus the comments.

`tomllib` checks the document first (a broken one is a problem, never a half-read); this scanner
then walks the same text for positions, which `tomllib` does not give. Only what a dependency
manifest needs is kept: strings and keys. Numbers, booleans and dates are skipped.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Path = tuple[object, ...]  # str keys and int array indices

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
SCALAR_END = re.compile(r"[,\]\}\s#]")


@dataclass(frozen=True)
class TomlString:
    path: Path  # where the value sits: ("project", "dependencies", 0)
    value: str  # the decoded string
    raw: str  # the characters between the quotes, as written
    line: int  # 1-based line of the first character between the quotes
    column: int  # its 0-based column
    is_key: bool = False  # a key (the last part of `path`), not a value


class TomlError(Exception):
    pass


def check(text: str) -> str:
    """'' when `text` is valid TOML, else tomllib's message."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return str(exc)
    return ""


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.line_start = 0
        self.comments: list[tuple[int, str]] = []
        self.found: list[TomlString] = []
        self.array_tables: dict[Path, int] = {}

    # positions ---------------------------------------------------------------------------
    def _advance_to(self, j: int) -> None:
        chunk = self.text[self.i : j]
        newlines = chunk.count("\n")
        if newlines:
            self.line += newlines
            self.line_start = self.i + chunk.rindex("\n") + 1
        self.i = j

    def _skip_space(self, newlines: bool) -> None:
        text = self.text
        while self.i < len(text):
            c = text[self.i]
            if c in " \t\r":
                self._advance_to(self.i + 1)
            elif c == "\n" and newlines:
                self._advance_to(self.i + 1)
            elif c == "#":
                end = text.find("\n", self.i)
                end = len(text) if end < 0 else end
                self.comments.append((self.line, text[self.i : end]))
                self._advance_to(end)
            else:
                return

    # pieces ------------------------------------------------------------------------------
    def _string(self) -> tuple[str, str, int, int]:
        """A string at `i`: (decoded, raw, line, column of the raw text's first character)."""
        text = self.text
        quote = text[self.i]
        triple = text.startswith(quote * 3, self.i)
        opener = quote * 3 if triple else quote
        start = self.i + len(opener)
        if triple:
            end = text.find(opener, start)
            while end >= 0 and text.startswith(quote, end + 3):  # up to two quotes may end the content
                end += 1
            if quote == '"':
                while end >= 0 and _escaped(text, end):
                    end = text.find(opener, end + 1)
        else:
            end = start
            while end < len(text) and text[end] != quote and text[end] != "\n":
                end += 2 if quote == '"' and text[end] == "\\" else 1
        if end < 0 or end > len(text):
            raise TomlError("unterminated string")
        raw = text[start:end]
        self._advance_to(start)
        line, column = self.line, self.i - self.line_start
        self._advance_to(end + len(opener))
        value = tomllib.loads(f"v = {opener}{raw}{opener}")["v"] if "\\" in raw or triple else raw
        if triple and value.startswith("\n"):
            value = value[1:]
        return value, raw, line, column

    def _key(self) -> list[tuple[str, str, int, int]]:
        """A dotted key at `i`: its parts as (decoded, raw, line, column)."""
        parts = []
        while True:
            self._skip_space(False)
            c = self.text[self.i] if self.i < len(self.text) else ""
            if c in "\"'":
                parts.append(self._string())
            else:
                m = BARE_KEY.match(self.text, self.i)
                if m is None:
                    raise TomlError(f"a key expected at line {self.line}")
                column = self.i - self.line_start
                parts.append((m.group(0), m.group(0), self.line, column))
                self._advance_to(m.end())
            self._skip_space(False)
            if self.i < len(self.text) and self.text[self.i] == ".":
                self._advance_to(self.i + 1)
                continue
            return parts

    def _value(self, path: Path) -> None:
        self._skip_space(False)
        text = self.text
        c = text[self.i] if self.i < len(text) else ""
        if c in "\"'":
            value, raw, line, column = self._string()
            self.found.append(TomlString(path, value, raw, line, column))
        elif c == "[":
            self._advance_to(self.i + 1)
            index = 0
            while True:
                self._skip_space(True)
                if self.i >= len(text):
                    raise TomlError("unterminated array")
                if text[self.i] == "]":
                    self._advance_to(self.i + 1)
                    return
                if text[self.i] == ",":
                    self._advance_to(self.i + 1)
                    continue
                self._value((*path, index))
                index += 1
        elif c == "{":
            self._advance_to(self.i + 1)
            while True:
                self._skip_space(False)
                if self.i >= len(text):
                    raise TomlError("unterminated inline table")
                if text[self.i] == "}":
                    self._advance_to(self.i + 1)
                    return
                if text[self.i] == ",":
                    self._advance_to(self.i + 1)
                    continue
                self._pair(path)
        else:
            m = SCALAR_END.search(text, self.i)
            self._advance_to(m.start() if m else len(text))

    def _pair(self, table: Path) -> None:
        parts = self._key()
        path = (*table, *(p[0] for p in parts))
        name, raw, line, column = parts[-1]
        self.found.append(TomlString(path, name, raw, line, column, is_key=True))
        self._skip_space(False)
        if self.i >= len(self.text) or self.text[self.i] != "=":
            raise TomlError(f"'=' expected at line {self.line}")
        self._advance_to(self.i + 1)
        self._value(path)

    def run(self) -> None:
        text = self.text
        table: Path = ()
        while True:
            self._skip_space(True)
            if self.i >= len(text):
                return
            if text[self.i] == "[":
                array = text.startswith("[[", self.i)
                self._advance_to(self.i + (2 if array else 1))
                header = tuple(p[0] for p in self._key())
                self._advance_to(self.i + (2 if array else 1))
                if array:  # `[[a.b]]`: the next element of the array at a.b (inside the current `[[a]]`)
                    key = (*_with_array_indices(header[:-1], self.array_tables), header[-1])
                    n = self.array_tables.get(key, 0)
                    self.array_tables[key] = n + 1
                    table = (*key, n)
                else:
                    table = _with_array_indices(header, self.array_tables)
            else:
                self._pair(table)


def _with_array_indices(header: Path, arrays: dict[Path, int]) -> Path:
    """`[tool.x.sub]` under the last `[[tool.x]]` is `("tool", "x", <its index>, "sub")`
    (`arrays` counts the elements of each array of tables, keyed by its indexed path)."""
    out: list[object] = []
    for part in header:
        out.append(part)
        key = tuple(out)
        if key in arrays:
            out.append(arrays[key] - 1)
    return tuple(out)


def _escaped(text: str, at: int) -> bool:
    backslashes = 0
    while at - 1 - backslashes >= 0 and text[at - 1 - backslashes] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def strings(text: str) -> tuple[list[TomlString], list[tuple[int, str]]]:
    """Every string value and key of a valid TOML `text`, and its comments. Raises TomlError
    only on text `tomllib` rejects too (call `check` first)."""
    scanner = _Scanner(text)
    scanner.run()
    return scanner.found, scanner.comments


def walk(found: list[TomlString], prefix: Path) -> Iterator[TomlString]:
    """The strings whose path starts with `prefix`."""
    n = len(prefix)
    for item in found:
        if item.path[:n] == prefix:
            yield item
