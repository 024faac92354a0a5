"""A rule file → a validated `Rule`: every key and invariant is checked before any scan; a bad
file raises `RuleError` naming the file and the key (the CLI turns it into exit code 2)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from porttool.model import (
    TARGETS,
    Action,
    Applicability,
    Effort,
    Example,
    Rule,
    Severity,
    TargetFix,
)
from porttool.ruleset import RuleError


CODE_RE = re.compile(r"^PT\d{3}$")
NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
HANDLER_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


FAMILIES = {
    "0": "device",
    "1": "runtime",
    "2": "amp",
    "3": "backends",
    "4": "data",
    "5": "distributed",
    "6": "compile",
    "7": "kernels",
    "8": "performance",
}
# PT750-PT799: dependency manifests (CUDA-only packages, CUDA builds, indexes, images), next to
# the kernels and CUDA-only libraries they install
SUBFAMILIES = {("7", 50): "dependencies"}


def family_of(code: str) -> str | None:
    """The family folder a rule code belongs in (`PT705` → kernels, `PT752` → dependencies)."""
    family = FAMILIES.get(code[2])
    for (digit, first), name in SUBFAMILIES.items():
        if code[2] == digit and int(code[3:]) >= first:
            family = name
    return family


TOP_KEYS_REQUIRED = {"code", "name", "summary", "why", "severity", "match", "fix", "examples", "valid"}
TOP_KEYS_OPTIONAL = {"message", "known_problems", "references", "effort"}


FIX_KEYS = {
    "action",
    "applicability",
    "title",
    "behaviour_change",
    "guidance",
    "template",
    "handler",
    "imports",
    "severity",
    "effort",
}


EXAMPLE_KEYS = {"target", "before", "after", "file"}
VALID_FILE_KEYS = {"file", "text"}
DEVICE_STRING_POSITIONS = {"device", "ambiguous", "map_location", "device_type", "compared"}
IDENTIFIER_POSITIONS = {"names", "definitions"}  # names: variables, attributes, parameters, keywords, options
MANIFEST_ENTRIES = {"package", "index", "image", "channel", "env"}
INSTALLERS = {"pip", "conda"}
PLACEHOLDER_RE = re.compile(r"\{(receiver|args|arg\d+|value|accelerator)\}")


# matcher kind -> (required keys, optional keys)
MATCH_KINDS: dict[str, tuple[set[str], set[str]]] = {
    "call": ({"names"}, {"arg_count", "inside"}),
    "reference": ({"names"}, {"fallback"}),
    "assign": ({"names"}, set()),
    "method": ({"names"}, {"call", "inside", "arg_count"}),
    "argument": ({"names", "keyword"}, {"position", "values", "variable_default"}),
    "device-string": ({"positions"}, set()),
    "device-idiom": (set(), {"form"}),
    "device-index-variable": (set(), set()),
    "import": ({"names"}, set()),
    "environ": ({"pattern", "triggers"}, set()),
    "file": ({"globs"}, set()),
    "manifest": ({"entry"}, {"names", "exclude", "pattern", "version", "installer", "triggers"}),
    "identifier": ({"pattern"}, {"positions"}),
    "string": (set(), {"values", "pattern", "triggers"}),
    "module-variable": ({"names", "replacements"}, set()),
    "dict-entry": ({"keys", "values"}, set()),
}


def _require(cond: bool, source: str, key: str, problem: str) -> None:
    if not cond:
        raise RuleError(source, key, problem)


def _strs(value: Any, source: str, key: str) -> tuple[str, ...]:
    _require(
        isinstance(value, list) and all(isinstance(v, str) and v for v in value) and bool(value),
        source,
        key,
        "must be a non-empty list of strings",
    )
    return tuple(value)


def _parse_fix(raw: Any, source: str, key: str) -> TargetFix:
    _require(isinstance(raw, dict), source, key, "must be a table")
    unknown = set(raw) - FIX_KEYS
    _require(not unknown, source, f"{key}.{sorted(unknown)[0] if unknown else ''}", "unknown key")
    try:
        action = Action(raw.get("action"))
    except ValueError:
        raise RuleError(source, f"{key}.action", f"must be one of {[a.value for a in Action]}")
    applicability = None
    if action in (Action.REWRITE, Action.REMOVE):
        try:
            applicability = Applicability(raw.get("applicability"))
        except ValueError:
            raise RuleError(source, f"{key}.applicability", "must be 'safe' or 'unsafe'")
        _require(bool(raw.get("title")), source, f"{key}.title", "a fix needs a title")
        if applicability is Applicability.UNSAFE:
            _require(
                bool(raw.get("behaviour_change")),
                source,
                f"{key}.behaviour_change",
                "an unsafe fix must state the exact behaviour change",
            )
    else:
        _require(
            "applicability" not in raw and "template" not in raw and "handler" not in raw,
            source,
            key,
            f"action '{action.value}' takes no applicability, template or handler",
        )
    if action in (Action.MANUAL, Action.INFO):
        _require(bool(raw.get("guidance")), source, f"{key}.guidance", f"'{action.value}' needs guidance")
    template, handler = raw.get("template"), raw.get("handler")
    if action is Action.REWRITE:
        _require(
            (template is None) != (handler is None),
            source,
            key,
            "a rewrite needs exactly one of 'template' or 'handler'",
        )
    if template is not None:
        _require(isinstance(template, str), source, f"{key}.template", "must be a string")
        for m in re.finditer(r"\{([^}]*)\}", template):
            _require(
                PLACEHOLDER_RE.fullmatch(m.group(0)) is not None,
                source,
                f"{key}.template",
                f"unknown placeholder {m.group(0)}",
            )
    if handler is not None:
        _require(
            isinstance(handler, str) and HANDLER_RE.match(handler) is not None,
            source,
            f"{key}.handler",
            "must be a python identifier naming porttool/rewrite/handlers/<handler>.py",
        )
    imports = tuple(raw.get("imports", ()))
    for imp in imports:
        _require(
            isinstance(imp, str) and re.match(r"^(import [\w.]+|from [\w.]+ import \w+)$", imp) is not None,
            source,
            f"{key}.imports",
            f"'{imp}' is not 'import a.b' or 'from a import b'",
        )
    severity = raw.get("severity")
    try:
        sev = Severity(severity) if severity is not None else None
    except ValueError:
        raise RuleError(source, f"{key}.severity", "must be error, warning or info")
    effort = _effort(raw.get("effort"), source, f"{key}.effort") if "effort" in raw else None
    return TargetFix(
        action=action,
        applicability=applicability,
        title=raw.get("title", ""),
        behaviour_change=raw.get("behaviour_change", ""),
        guidance=raw.get("guidance", ""),
        template=template,
        handler=handler,
        imports=imports,
        severity=sev,
        effort=effort,
    )


def _effort(value: Any, source: str, key: str) -> Effort:
    try:
        return Effort(value)
    except ValueError:
        raise RuleError(source, key, "must be low, medium or high (the manual work per site: minutes, hours, a rewrite)")


def _validate_match(match: Any, source: str) -> dict[str, Any]:
    _require(isinstance(match, dict), source, "match", "must be a table")
    kind = match.get("kind")
    _require(kind in MATCH_KINDS, source, "match.kind", f"must be one of {sorted(MATCH_KINDS)}")
    required, optional = MATCH_KINDS[kind]
    for key in required:
        _require(key in match, source, f"match.{key}", f"required for kind '{kind}'")
    unknown = set(match) - required - optional - {"kind"}
    _require(not unknown, source, f"match.{sorted(unknown)[0] if unknown else ''}", "unknown key")
    if "names" in match:
        _strs(match["names"], source, "match.names")
    if kind == "device-string":
        positions = _strs(match["positions"], source, "match.positions")
        bad = set(positions) - DEVICE_STRING_POSITIONS
        _require(not bad, source, "match.positions", f"unknown position(s) {sorted(bad)}")
    if kind == "device-idiom" and "form" in match:
        _require(match["form"] in ("idiom", "chain", "choices"), source, "match.form", "must be one of idiom, chain, choices")
    if kind in ("environ", "identifier"):
        try:
            re.compile(match["pattern"])
        except (re.error, TypeError) as exc:
            raise RuleError(source, "match.pattern", f"not a regular expression: {exc}")
    if kind == "environ":
        # texts (case as written) one of which every matched variable name contains: the prefilter
        # and the matcher look for them before trying the pattern on any string
        _strs(match["triggers"], source, "match.triggers")
    if kind == "string":
        _require("values" in match or "pattern" in match, source, "match", "a string match needs values or a pattern")
        if "pattern" in match:
            try:
                re.compile(match["pattern"])
            except (re.error, TypeError) as exc:
                raise RuleError(source, "match.pattern", f"not a regular expression: {exc}")
            _require(
                "triggers" in match,
                source,
                "match.triggers",
                "a string pattern needs triggers: texts (case as written), one of which every matched string contains (the prefilter)",
            )
            _strs(match["triggers"], source, "match.triggers")
    if kind == "module-variable":
        replacements = match["replacements"]
        _require(
            isinstance(replacements, dict) and bool(replacements) and all(isinstance(k, str) and isinstance(v, str) and v for k, v in replacements.items()),
            source,
            "match.replacements",
            "must be a table of attribute = replacement text (`*`: every other attribute, `{attr}` its name)",
        )
    if kind == "identifier" and "positions" in match:
        bad = set(_strs(match["positions"], source, "match.positions")) - IDENTIFIER_POSITIONS
        _require(not bad, source, "match.positions", f"unknown position(s) {sorted(bad)} (known: {sorted(IDENTIFIER_POSITIONS)})")
    if kind == "file":
        _strs(match["globs"], source, "match.globs")
    if kind == "manifest":
        _validate_manifest_match(match, source)
    if "inside" in match:
        supported = "assert" if kind == "call" else "loop"
        _require(match["inside"] == supported, source, "match.inside", f"only '{supported}' is supported for kind '{kind}'")
    for key in ("arg_count", "position"):
        if key in match:
            _require(isinstance(match[key], int) and match[key] >= 0, source, f"match.{key}", "must be an integer >= 0")
    for key in ("values", "variable_default"):
        if key in match:
            _require(isinstance(match[key], list) and bool(match[key]), source, f"match.{key}", "must be a non-empty list")
    if kind == "dict-entry":
        _strs(match["keys"], source, "match.keys")
    for key in ("call", "fallback"):
        if key in match:
            _require(isinstance(match[key], bool), source, f"match.{key}", "must be true or false")
    return dict(match)


def _validate_manifest_match(match: dict[str, Any], source: str) -> None:
    _require(match["entry"] in MANIFEST_ENTRIES, source, "match.entry", f"must be one of {sorted(MANIFEST_ENTRIES)}")
    _require(any(k in match for k in ("names", "pattern", "version")), source, "match", "a manifest match needs names, pattern or version")
    for key in ("names", "exclude", "triggers"):
        if key in match:
            _strs(match[key], source, f"match.{key}")
    for key in ("pattern", "version"):
        if key in match:
            try:
                re.compile(match[key])
            except (re.error, TypeError) as exc:
                raise RuleError(source, f"match.{key}", f"not a regular expression: {exc}")
    if "installer" in match:
        _require(match["installer"] in INSTALLERS, source, "match.installer", f"must be one of {sorted(INSTALLERS)}")
    if "names" not in match:
        _require(
            "triggers" in match,
            source,
            "match.triggers",
            "a match by pattern or version alone needs triggers: words (lower case), one of which the text of every match contains (the prefilter)",
        )
    if "triggers" in match:
        _require(all(t == t.lower() for t in match["triggers"]), source, "match.triggers", "must be lower case")


def _parse_valid(valid: Any, source: str, kind: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """`valid` as Python snippets (strings) or, for manifest rules, `{ file, text }` tables."""
    if kind == "file":
        return tuple(v for v in valid if isinstance(v, str)) if isinstance(valid, list) else (), ()
    if kind != "manifest":
        return _strs(valid, source, "valid"), ()
    _require(isinstance(valid, list) and bool(valid), source, "valid", "needs at least one { file, text } table")
    files = []
    for i, item in enumerate(valid):
        key = f"valid[{i}]"
        _require(isinstance(item, dict), source, key, "a manifest rule's valid entries are { file = ..., text = ... } tables")
        unknown = set(item) - VALID_FILE_KEYS
        _require(not unknown, source, f"{key}.{sorted(unknown)[0] if unknown else ''}", "unknown key")
        _require(isinstance(item.get("file"), str) and bool(item.get("file")), source, f"{key}.file", "required: the file name the text is scanned as")
        _require(isinstance(item.get("text"), str), source, f"{key}.text", "required text")
        files.append((item["file"], item["text"]))
    return (), tuple(files)


def parse_rule(data: dict[str, Any], source: str) -> Rule:
    """Validate one rule file's parsed TOML and build the `Rule`."""
    missing = TOP_KEYS_REQUIRED - set(data)
    tail = data.get("examples", [{}])[-1] if isinstance(data.get("examples"), list) and data["examples"] else {}
    if missing and isinstance(tail, dict) and missing & set(tail):
        key = sorted(missing & set(tail))[0]
        raise RuleError(source, key, "found inside the last [[examples]] table: TOML puts keys after a table header into that table; move it above the first [table]")
    _require(not missing, source, sorted(missing)[0] if missing else "", "required key is missing")
    unknown = set(data) - TOP_KEYS_REQUIRED - TOP_KEYS_OPTIONAL
    _require(not unknown, source, sorted(unknown)[0] if unknown else "", "unknown key")
    code, name = data["code"], data["name"]
    _require(isinstance(code, str) and CODE_RE.match(code) is not None, source, "code", "must be PT + three digits")
    _require(isinstance(name, str) and NAME_RE.match(name) is not None, source, "name", "must be kebab-case")
    stem = Path(source).stem
    _require(stem == f"{code}-{name}", source, "code", f"file name must be '{code}-{name}.toml'")
    family = Path(source).parent.name
    expected_family = family_of(code)
    if expected_family is not None and (family in FAMILIES.values() or family in SUBFAMILIES.values()):
        _require(family == expected_family, source, "code", f"a {code} rule belongs in '{expected_family}/'")
    for key in ("summary", "why"):
        _require(isinstance(data[key], str) and data[key].strip() != "", source, key, "must be non-empty text")
    try:
        severity = Severity(data["severity"])
    except ValueError:
        raise RuleError(source, "severity", "must be error, warning or info")
    effort = _effort(data["effort"], source, "effort") if "effort" in data else Effort.MEDIUM
    match = _validate_match(data["match"], source)
    fix_table = data["fix"]
    _require(isinstance(fix_table, dict), source, "fix", "must be a table of targets")
    extra = set(fix_table) - set(TARGETS)
    _require(not extra, source, f"fix.{sorted(extra)[0] if extra else ''}", f"unknown target (targets: {', '.join(TARGETS)})")
    fixes: dict[str, TargetFix] = {}
    for target in TARGETS:
        _require(target in fix_table, source, f"fix.{target}", "every target needs a fix table")
        fixes[target] = _parse_fix(fix_table[target], source, f"fix.{target}")
    if match["kind"] == "manifest":
        for target, fix in fixes.items():
            _require(
                fix.action not in (Action.REWRITE, Action.REMOVE),
                source,
                f"fix.{target}.action",
                "a manifest rule reports (manual, info or keep): porttool does not edit dependency files",
            )
    raw_examples = data["examples"]
    _require(isinstance(raw_examples, list) and bool(raw_examples), source, "examples", "needs at least one example")
    examples = []
    for i, ex in enumerate(raw_examples):
        key = f"examples[{i}]"
        _require(isinstance(ex, dict), source, key, "must be a table")
        unknown = set(ex) - EXAMPLE_KEYS
        _require(not unknown, source, f"{key}.{sorted(unknown)[0] if unknown else ''}", "unknown key")
        _require(ex.get("target") in TARGETS, source, f"{key}.target", f"must be one of {TARGETS}")
        _require(isinstance(ex.get("before"), str), source, f"{key}.before", "required text")
        if match["kind"] == "manifest":
            _require(isinstance(ex.get("file"), str) and bool(ex.get("file")), source, f"{key}.file", "a manifest rule's example names the file it is scanned as (requirements.txt, Dockerfile, ...)")
        else:
            _require("file" not in ex, source, f"{key}.file", "only manifest rules' examples name a file")
        after = ex.get("after")
        _require(after is None or isinstance(after, str), source, f"{key}.after", "must be text")
        fix = fixes[ex["target"]]
        if after is not None:
            _require(
                fix.action in (Action.REWRITE, Action.REMOVE),
                source,
                f"{key}.after",
                f"target '{ex['target']}' does not rewrite ({fix.action.value}); drop 'after'",
            )
        if match["kind"] == "manifest":
            _require(after is None, source, f"{key}.after", "manifest rules do not rewrite; drop 'after'")
        examples.append(Example(target=ex["target"], before=ex["before"], after=after, file=ex.get("file", "")))
    if match["kind"] != "file":
        for target, fix in fixes.items():
            if fix.action in (Action.REWRITE, Action.REMOVE):
                _require(
                    any(e.target == target and e.after is not None for e in examples),
                    source,
                    "examples",
                    f"target '{target}' rewrites, so it needs a before/after example",
                )
            elif fix.action is not Action.KEEP:
                _require(
                    any(e.target == target for e in examples),
                    source,
                    "examples",
                    f"target '{target}' reports ({fix.action.value}), so it needs an example",
                )
    valid, valid_files = _parse_valid(data["valid"], source, match["kind"])
    refs = data.get("references", [])
    _require(isinstance(refs, list) and all(isinstance(r, str) for r in refs), source, "references", "must be a list of URLs")
    for key in ("message", "known_problems"):
        _require(isinstance(data.get(key, ""), str), source, key, "must be text")
    return Rule(
        code=code,
        name=name,
        summary=data["summary"].strip(),
        why=data["why"].strip(),
        severity=severity,
        match=match,
        fixes=fixes,
        examples=tuple(examples),
        valid=tuple(valid),
        message=data.get("message", "").strip(),
        known_problems=data.get("known_problems", "").strip(),
        references=tuple(refs),
        source=source,
        effort=effort,
        valid_files=valid_files,
    )


def load_rule_file(path: Path) -> Rule:
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(source, "(toml)", str(exc))
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(source, "(file)", str(exc))
    return parse_rule(data, source)
