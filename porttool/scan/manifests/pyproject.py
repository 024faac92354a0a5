"""pyproject.toml: the dependency lists of every common tool, and the package indexes they use.

- requirement strings: `[project] dependencies` and `optional-dependencies`, `[build-system]
  requires`, `[dependency-groups]` (PEP 735), uv's `dev-dependencies`,
  `constraint-dependencies`, `override-dependencies`, pdm's `dev-dependencies`, hatch
  environments' `dependencies` / `extra-dependencies`;
- Poetry's tables (`[tool.poetry.dependencies]`, `dev-dependencies`, `group.<g>.dependencies`),
  where the key is the package and the value (or its `version`) the version;
- index URLs anywhere under `[tool]` in a `url`, `index-url`, `extra-index-url` or `find-links`
  key: `[[tool.uv.index]]`, `[[tool.poetry.source]]`, `[[tool.pdm.source]]`, `[tool.uv]
  extra-index-url`, a `[tool.uv.sources]` entry's direct `url`.

A file `tomllib` rejects is a problem (a PT909 diagnostic), never half-read.
"""

from __future__ import annotations

from porttool.model import Span
from porttool.scan.manifests.entries import INDEX, PACKAGE, Entry, Manifest
from porttool.scan.manifests.requirements import requirement_entry
from porttool.scan.manifests.toml_strings import TomlError, TomlString, check, strings

REQUIREMENT_LISTS: tuple[tuple[object, ...], ...] = (
    ("project", "dependencies", int),
    ("project", "optional-dependencies", str, int),
    ("build-system", "requires", int),
    ("dependency-groups", str, int),
    ("tool", "uv", "dev-dependencies", int),
    ("tool", "uv", "constraint-dependencies", int),
    ("tool", "uv", "override-dependencies", int),
    ("tool", "uv", "build-constraint-dependencies", int),
    ("tool", "pdm", "dev-dependencies", str, int),
    ("tool", "hatch", "envs", str, "dependencies", int),
    ("tool", "hatch", "envs", str, "extra-dependencies", int),
)
POETRY_TABLES: tuple[tuple[object, ...], ...] = (
    ("tool", "poetry", "dependencies"),
    ("tool", "poetry", "dev-dependencies"),
    ("tool", "poetry", "group", str, "dependencies"),
)
URL_KEYS = {"url", "index-url", "extra-index-url", "find-links"}


def _fits(path: tuple[object, ...], shape: tuple[object, ...]) -> bool:
    if len(path) != len(shape):
        return False
    return all(isinstance(p, s) if isinstance(s, type) else p == s for p, s in zip(path, shape))


def _under(path: tuple[object, ...], shape: tuple[object, ...]) -> bool:
    return len(path) > len(shape) and _fits(path[: len(shape)], shape)


def parse_pyproject(text: str) -> Manifest:
    problem = check(text)
    if problem:
        return Manifest(problem=f"invalid TOML: {problem}")
    try:
        found, comments = strings(text)
    except TomlError as exc:  # tomllib accepted it: a gap in the scanner; report what it is
        return Manifest(problem=f"porttool could not read the TOML positions: {exc}")
    entries: list[Entry] = []
    values = {item.path: item for item in found if not item.is_key}
    for item in found:
        path = item.path
        if not item.is_key and any(_fits(path, shape) for shape in REQUIREMENT_LISTS):
            entry = _requirement(item)
            if entry is not None:
                entries.append(entry)
        elif item.is_key and any(_fits(path[:-1], shape) for shape in POETRY_TABLES) and isinstance(path[-1], str) and path[-1].lower() != "python":
            version = values.get(path) or values.get((*path, "version"))
            end = item.column + len(item.raw)
            entries.append(Entry(PACKAGE, item.value, Span(item.line, item.column, item.line, end), version.value if version else ""))
        elif not item.is_key and path and path[0] == "tool" and _url_key(path):
            if "\n" not in item.raw:
                entries.append(Entry(INDEX, item.value, Span(item.line, item.column, item.line, item.column + len(item.raw))))
    return Manifest(tuple(entries), tuple(comments))


def _url_key(path: tuple[object, ...]) -> bool:
    keys = [p for p in path if isinstance(p, str)]
    return bool(keys) and keys[-1] in URL_KEYS


def _requirement(item: TomlString) -> Entry | None:
    if item.raw == item.value and "\n" not in item.raw:
        return requirement_entry(item.raw, item.line, item.column)
    parsed = requirement_entry(item.value, 1, 0)  # escapes or a multi-line string: point at it whole
    if parsed is None:
        return None
    last_line = item.line + item.raw.count("\n")
    end = len(item.raw.rsplit("\n", 1)[-1]) + (item.column if last_line == item.line else 0)
    return Entry(PACKAGE, parsed.name, Span(item.line, item.column, last_line, end), parsed.version)
