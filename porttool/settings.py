"""Settings: command line over `[tool.porttool]` in pyproject.toml over defaults. Immutable."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from porttool.model import DEFAULT_TARGET, TARGETS, Severity


class ConfigError(Exception):
    """The configuration is invalid; the message names the file and the key."""


CONFIG_KEYS = {
    "target": str,
    "select": list,
    "ignore": list,
    "exclude": list,
    "rules-dirs": list,
    "fail-on": str,
    "unsafe-fixes": bool,
    "baseline": str,
    "cache": bool,
}


@dataclass(frozen=True)
class Settings:
    target: str = DEFAULT_TARGET
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    rules_dirs: tuple[Path, ...] = ()
    fail_on: Severity = Severity.WARNING  # hints (info) alone never fail a finished port
    unsafe_fixes: bool = False
    baseline: Path | None = None
    cache: bool = True
    config_file: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def merged(self, **overrides: Any) -> Settings:
        """A copy with the given non-None overrides (the command line wins)."""
        values = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **values)


def find_config(start: Path) -> Path | None:
    """The nearest pyproject.toml with a [tool.porttool] table, walking up from `start`."""
    start = start.absolute()
    for directory in [start, *start.parents] if start.is_dir() else list(start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
                continue
            if "porttool" in data.get("tool", {}):
                return candidate
    return None


def load_settings(config_file: Path | None) -> Settings:
    if config_file is None:
        return Settings()
    try:
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_file}: invalid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_file}: cannot read: {exc}") from exc
    table = data.get("tool", {}).get("porttool", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{config_file}: [tool.porttool] must be a table")
    for key, value in table.items():
        expected = CONFIG_KEYS.get(key)
        if expected is None:
            raise ConfigError(f"{config_file}: [tool.porttool] {key}: unknown key (known: {', '.join(sorted(CONFIG_KEYS))})")
        if not isinstance(value, expected):
            raise ConfigError(f"{config_file}: [tool.porttool] {key}: must be a {expected.__name__}")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{config_file}: [tool.porttool] {key}: must be a list of strings")
    target = table.get("target", DEFAULT_TARGET)
    if target not in TARGETS:
        raise ConfigError(f"{config_file}: [tool.porttool] target: must be one of {', '.join(TARGETS)}")
    try:
        fail_on = Severity(table.get("fail-on", "warning"))
    except ValueError:
        raise ConfigError(f"{config_file}: [tool.porttool] fail-on: must be error, warning or info") from None
    base = config_file.parent
    return Settings(
        target=target,
        select=tuple(table.get("select", ())),
        ignore=tuple(table.get("ignore", ())),
        exclude=tuple(table.get("exclude", ())),
        rules_dirs=tuple(base / d for d in table.get("rules-dirs", ())),
        fail_on=fail_on,
        unsafe_fixes=table.get("unsafe-fixes", False),
        baseline=base / table["baseline"] if "baseline" in table else None,
        cache=table.get("cache", True),
        config_file=config_file,
    )
