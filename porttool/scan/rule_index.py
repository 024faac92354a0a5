"""The selected rules indexed for the matcher (by call, name, method, argument, string...), and
the text prefilters built from their trigger words: whether a source can match at all, and which
of its lines can hold a site."""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from dataclasses import dataclass, field

from porttool.model import Rule
from porttool.ruleset.registry import Registry
from porttool.scan.import_table import ImportTable, line_numbers
from porttool.scan.prefilter import LineNeedles, Prefilter


@dataclass
class CompiledRules:
    """The selected rules, indexed by what each matcher looks at, plus the text prefilter."""

    calls: dict[str, list[Rule]] = field(default_factory=lambda: defaultdict(list))
    call_prefixes: list[tuple[str, Rule]] = field(default_factory=list)
    references: dict[str, list[Rule]] = field(default_factory=lambda: defaultdict(list))
    reference_prefixes: list[tuple[str, Rule]] = field(default_factory=list)
    assigns: dict[str, list[Rule]] = field(default_factory=lambda: defaultdict(list))
    assign_prefixes: list[tuple[str, Rule]] = field(default_factory=list)
    methods: dict[str, list[Rule]] = field(default_factory=lambda: defaultdict(list))
    attributes: dict[str, list[Rule]] = field(default_factory=lambda: defaultdict(list))
    arguments: dict[str, list[Rule]] = field(default_factory=lambda: defaultdict(list))
    device_strings: dict[str, list[Rule]] = field(default_factory=lambda: defaultdict(list))
    idioms: list[Rule] = field(default_factory=list)
    device_indices: list[Rule] = field(default_factory=list)  # `device-index-variable` rules
    imports: list[tuple[str, Rule]] = field(default_factory=list)
    environs: list[tuple[re.Pattern[str], Rule]] = field(default_factory=list)
    environ_triggers: tuple[str, ...] = ()  # every variable name an environ rule matches spells one
    files: list[tuple[tuple[str, ...], Rule]] = field(default_factory=list)
    manifests: list[Rule] = field(default_factory=list)  # `manifest` rules (matched by porttool.scan.manifest_matcher)
    manifest_words: tuple[str, ...] = ()  # lower case; a manifest spelling none of them matches no manifest rule
    identifiers: list[tuple[re.Pattern[str], Rule]] = field(default_factory=list)
    identifier_words: tuple[str, ...] = ()  # lower case; a name spelling none of them matches no identifier rule
    definitions: list[tuple[re.Pattern[str], str, Rule]] = field(default_factory=list)  # identifier rules on defined and imported names: (pattern, its word, rule)
    strings: dict[str, list[Rule]] = field(default_factory=lambda: defaultdict(list))
    string_patterns: list[tuple[re.Pattern[str], tuple[str, ...], Rule]] = field(default_factory=list)  # (pattern, triggers, rule)
    dict_entries: dict[str, list[Rule]] = field(default_factory=lambda: defaultdict(list))  # key → `dict-entry` rules
    module_variables: list[Rule] = field(default_factory=list)  # `module-variable` rules (scan/module_values.py)
    triggers: set[str] = field(default_factory=set)
    # one search for any trigger of the string-pattern and environ rules (None: no such rule)
    special_string: re.Pattern[str] | None = None
    prefilter: Prefilter | None = None
    line_needles: LineNeedles | None = None  # one of them is on a line of every statement that holds a site

    @classmethod
    def build(cls, registry: Registry) -> CompiledRules:
        c = cls()
        for rule in registry:
            m = rule.match
            kind = m["kind"]
            if kind in ("call", "reference", "assign"):
                exact, prefixes = {"call": (c.calls, c.call_prefixes), "reference": (c.references, c.reference_prefixes), "assign": (c.assigns, c.assign_prefixes)}[kind]
                for name in m["names"]:
                    if name.endswith(".*"):
                        prefixes.append((name[:-1], rule))
                    else:
                        exact[name].append(rule)
                    c.triggers.add(_trigger_of(name))
            elif kind == "method":
                index = c.methods if m.get("call", True) else c.attributes
                for name in m["names"]:
                    index[name].append(rule)
                    c.triggers.add(name)
            elif kind == "argument":
                for name in m["names"]:
                    c.arguments[name].append(rule)
                strings = [v for v in m.get("values", []) if isinstance(v, str)]
                c.triggers.update([_trigger_of(v) if "." in v else v for v in strings] or [m["keyword"]])
                if "position" in m and not strings:  # a positional use does not spell the keyword
                    c.triggers.update(_trigger_of(name) for name in m["names"])
            elif kind == "device-string":
                for pos in m["positions"]:
                    c.device_strings[pos].append(rule)
                c.triggers.add("cuda")
            elif kind == "device-idiom":
                c.idioms.append(rule)
                c.triggers.add("cuda")
            elif kind == "device-index-variable":
                c.device_indices.append(rule)
                c.triggers.add("cuda")
            elif kind == "import":
                for name in m["names"]:
                    c.imports.append((name, rule))
                    c.triggers.add(_trigger_of(name))  # every part of a module path is spelled out
            elif kind == "environ":
                pattern = re.compile(m["pattern"])
                c.environs.append((pattern, rule))
                c.environ_triggers += tuple(m["triggers"])
            elif kind == "file":
                c.files.append((tuple(m["globs"]), rule))
            elif kind == "manifest":
                c.manifests.append(rule)
                c.manifest_words += manifest_trigger_words(rule)
            elif kind == "identifier":
                words = re.findall(r"[A-Za-z]{3,}", m["pattern"])
                positions = m.get("positions", ["names"])
                if "definitions" in positions:
                    c.definitions.append((re.compile(m["pattern"]), max(words, key=len).lower() if words else "", rule))
                if "names" not in positions:
                    c.triggers.add(max(words, key=len) if words else "")
                    continue
                c.identifiers.append((re.compile(m["pattern"]), rule))
                c.triggers.add(max(words, key=len) if words else "")
                c.identifier_words += (max(words, key=len).lower(),) if words else ("",)
            elif kind == "dict-entry":
                for key in m["keys"]:
                    c.dict_entries[key].append(rule)
                    c.triggers.add(key)
            elif kind == "module-variable":
                c.module_variables.append(rule)
                c.triggers.update(_trigger_of(name) for name in m["names"])
            elif kind == "string":
                for value in m.get("values", ()):
                    c.strings[str(value)].append(rule)
                    c.triggers.add(str(value))
                if "pattern" in m:
                    c.string_patterns.append((re.compile(m["pattern"]), tuple(m["triggers"]), rule))
                    c.triggers.update(m["triggers"])
        special = sorted({t for _, triggers, _ in c.string_patterns for t in triggers} | set(c.environ_triggers))
        if special:
            c.special_string = re.compile("|".join(map(re.escape, special)))
        c.prefilter = Prefilter(registry)
        c.line_needles = LineNeedles(registry)
        return c

    def may_match(self, text: str) -> bool:
        """The cheap text prefilter: can this source produce any site at all? (scan/prefilter.py)"""
        return self.prefilter is None or self.prefilter.may_match(text)

    def may_match_manifest(self, text: str) -> bool:
        """The prefilter for dependency manifests: can this text produce any manifest site?"""
        if not self.manifests:
            return False
        lowered = text.lower()
        return any(word in lowered for word in self.manifest_words)

    def file_rules(self, filename: str) -> list[Rule]:
        return [rule for globs, rule in self.files if any(fnmatch.fnmatch(filename, g) for g in globs)]


def manifest_trigger_words(rule: Rule) -> tuple[str, ...]:
    """Lower-case words one of which the text of every match of a manifest rule contains: the
    longest literal piece of each name glob (pieces split at `-_.`, so `flash_attn` in a file
    finds the rule's `flash-attn`), and the rule's own `triggers`."""
    m = rule.match
    words = list(m.get("triggers", ()))
    for glob in m.get("names", ()):
        pieces = [p for p in re.split(r"[-_.*?\[\]/:@!]+", glob.lower()) if p]
        words.append(max(pieces, key=len) if pieces else "")
    return tuple(words)


def _trigger_of(qualified: str) -> str:
    parts = [p for p in qualified.split(".") if p and p != "*"]
    for part in parts:
        if any(word in part.lower() for word in ("cuda", "cudnn", "nccl", "nvtx")):
            return part
    return parts[-1] if parts else qualified


def relevant_lines(source: str, rules: CompiledRules, imports: ImportTable) -> list[int] | None:
    """The sorted numbers of the lines a site can be on, or None for every line.

    Every statement that holds a site spells one of the rules' line needles (scan/prefilter.py:
    `.item` as an attribute, `float64` as a word, `cuda` anywhere, `device=0`...), except where an
    import gave the object another name (`from torch import cuda as c`, `import torch.cuda.amp as
    amp`): those local names count too. Over-inclusion (a needle in a comment or a string) only
    costs time; the scan's results never depend on it.
    """
    needles = rules.line_needles
    if needles is None:
        return None
    starts = needles.offsets(source)
    if starts is None:
        return None
    hidden = [local for local, qualified in imports.aliases.items() if needles.hides(local, qualified)]
    if hidden:
        starts += [m.start() for m in re.finditer(r"\b(?:%s)\b" % "|".join(map(re.escape, hidden)), source)]
        starts.sort()
    return line_numbers(source, starts)
