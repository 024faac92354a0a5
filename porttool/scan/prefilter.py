"""What a source must spell before any rule can match it: a text test that decides, without
parsing, that most files of a large tree hold no site.

Each rule's match table says what its sites spell, and this module turns that into *needles*:

- a **word**: an identifier spelled whole (`\\bload\\b`: not `download`, not `load_state_dict`).
  Every part of a qualified name a rule matches (`torch.utils.cpp_extension.load`) is spelled as a
  word somewhere in a file that reaches it: the import table resolves names only through import
  statements and dotted chains, which spell every part;
- an **attribute**: `.name` (a method rule matches `x.item()` / `x.is_cuda`, never `items()` or a
  bare `numpy`);
- a **text**: a plain substring (a device string's `cuda`, a string rule's value, an identifier
  rule's longest word — these can sit inside larger words or strings);
- a **pattern**: a regular expression (environment-variable names, `keyword=value` arguments).

A rule can match only where one of its *alternatives* — a set of needles that must all be
present — holds; a file is parsed only when some rule's alternative holds. The test never decides
a result on its own: a file it lets through is scanned in full, so over-inclusion costs time and
never findings; what it must never do is reject a file that holds a site, and the needles above
are each implied by the matcher's own conditions (tests compare the scan with and without it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from porttool.model import Rule



@dataclass(frozen=True, order=True)
class Needle:
    # "word" | "attr" | "text" | "itext" (a substring in any case) | "pattern" | "member" (the last
    # part of a qualified name: an attribute, or a name an import statement spells) | "module" (a
    # dotted module path an import statement or `import_module("...")` spells)
    kind: str
    value: str


Alternative = tuple[Needle, ...]


def _word(name: str) -> Needle:
    return Needle("word", name)


def _components(qualified: str) -> tuple[Needle, ...]:
    return tuple(_word(part) for part in qualified.split(".") if part and part != "*")


def _qualified(qualified: str) -> tuple[Needle, ...]:
    """What a use of `qualified` spells: every part as a word, and the last one either as an
    attribute (`torch.where(...)`, `th.where`) or in an import statement (`from torch import where
    as w`): the import table resolves a name no other way."""
    parts = _components(qualified)
    if len(parts) < 2:
        return parts
    return parts[:-1] + (Needle("member", parts[-1].value),)


def _literal_pattern(value: object) -> str:
    """How a matched argument value is spelled in the source."""
    if isinstance(value, bool) or isinstance(value, int):
        return r"\b%s\b" % re.escape(str(value))
    text = str(value)
    if "." in text and re.fullmatch(r"[\w.]+", text):  # a qualified name (`torch.float16`): its last part
        return r"\b%s\b" % re.escape(text.rsplit(".", 1)[-1])
    return re.escape(text)  # a string's content (`"nccl"`, `'nccl'`, `f"nccl"`)


def alternatives_of(rule: Rule) -> list[Alternative]:
    """The alternatives under which `rule` can match a source (empty: a rule on file names)."""
    m = rule.match
    kind = m["kind"]
    if kind in ("call", "reference", "assign", "module-variable"):
        return [_qualified(name) for name in m["names"]]
    if kind == "import":
        return [(Needle("module", name),) for name in m["names"]]
    if kind == "method":
        return [(Needle("attr", name),) for name in m["names"]]
    if kind == "argument":
        values = m.get("values")
        value = "(?:%s)" % "|".join(sorted({_literal_pattern(v) for v in values})) if values else ""
        if values and all(isinstance(v, (bool, int)) for v in values):
            # `keyword=0`, `keyword=True`: the literal follows the `=` (a parenthesis, line break or
            # comment may sit between); the pattern starts with the keyword's letters, which `re`
            # finds as fast as `str.find`
            keyword: tuple[Needle, ...] = (Needle("pattern", r"%s\s*=(?:[\s(]|#[^\r\n]*(?=[\r\n]|$))*%s" % (re.escape(m["keyword"]), value)),)
        else:  # a string or a qualified name (`dtype=th.float16`): both spelled, not side by side
            keyword = (_word(m["keyword"]),) + ((Needle("pattern", value),) if value else ())
        found: list[Alternative] = []
        for name in m["names"]:
            callee = _qualified(name)
            found.append(callee + keyword)
            if "position" in m:  # a positional use does not spell the keyword
                found.append(callee + ((Needle("pattern", value),) if value else ()))
        return found
    if kind in ("device-string", "device-idiom"):
        return [(Needle("text", "cuda"),)]
    if kind == "environ":
        # the variable's name is spelled in a string (any mapping: os.environ, a copied env dict,
        # a `{...}` literal, `monkeypatch.setenv`), and it spells one of the rule's triggers
        return [(Needle("text", trigger), Needle("pattern", m["pattern"])) for trigger in m["triggers"]]
    if kind == "identifier":
        words = re.findall(r"[A-Za-z]{3,}", m["pattern"])
        if not words:
            return [()]
        longest = max(words, key=len)  # (the matcher assumes it too: every match spells it)
        if m["pattern"].startswith("(?i)"):
            return [(Needle("itext", longest.lower()),)]
        return [(Needle("text", longest),)]
    if kind == "dict-entry":  # `{"key": value}`, `dict(key=value)`: the key, then `:` or `=` and the value
        value = "(?:%s)" % "|".join(sorted({_literal_pattern(v) for v in m["values"]}))
        between = r"""["']?\s*[:=](?:[\s(]|#[^\r\n]*(?=[\r\n]|$))*"""
        return [(Needle("text", key), Needle("pattern", re.escape(key) + between + value)) for key in m["keys"]]
    if kind == "string":  # a value; or a pattern's trigger text and the pattern between quotes (not prose)
        flags, body = re.match(r"(\(\?[aiLmsux]+\))?(.*)", m.get("pattern", ""), re.S).groups()  # type: ignore[union-attr]
        quoted = (Needle("pattern", r"""%s(?<=['"])(?:%s)(?=['"])""" % (flags or "", body)),) if "pattern" in m else ()
        return [(Needle("text", str(value)),) for value in m.get("values", ())] + [(Needle("text", t),) + quoted for t in m.get("triggers", ())]
    if kind in ("file", "manifest"):
        return []  # (file names; dependency manifests: scan/manifest_matcher.py, never Python sources)
    return [()]  # a kind this module does not know: every source may match


# Parts of qualified names that nearly every PyTorch file spells: never the needle to look for first.
_COMMON = frozenset({"torch", "nn", "utils", "data", "distributed", "parallel", "backends", "amp", "library", "profiler", "autograd", "version", "os", "functional"})


def _rarity(needle: Needle) -> tuple[int, int]:
    """How selective a needle is likely to be (higher: rarer), to choose what to look for first."""
    if needle.kind in ("member", "module"):
        return (0, len(needle.value))  # (costlier to test: after a rarer word has been found)
    if needle.kind == "pattern":
        prefix = re.match(r"[A-Za-z_]+", needle.value)
        return (2, len(prefix.group())) if prefix and len(prefix.group()) >= 4 else (0, 0)
    if needle.value in _COMMON:
        return (0, len(needle.value))
    return (1, len(needle.value))


class Prefilter:
    """`may_match(text)`: does some rule's alternative hold in this source?

    Cost matters more than anything else here (it runs on every file of the tree): a regex over
    the whole text costs ~50 ns a character, `str.find` a fraction of that. So:
    1. plain substrings that decide on their own (`cuda`: any device string) are tested first —
       that settles every CUDA file;
    2. alternatives that need one of those substrings are then impossible and dropped;
    3. each remaining alternative is tried by its rarest needle first (found with `str.find`, its
       word boundaries checked at each hit), and its other needles only when that one is present.
    Results per needle are kept for the file, so a needle shared by many alternatives is searched
    once.
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        alternatives = {alt for rule in rules for alt in alternatives_of(rule)}
        self.always = () in alternatives
        quick = {a[0].value for a in alternatives if len(a) == 1 and a[0].kind == "text"}
        # a text holding another quick text (`cuda:` holds `cuda`) can never decide: not searched
        self._quick = sorted(q for q in quick if not any(o != q and o in q for o in quick))
        rest = [a for a in alternatives if not any(_implied_absent(n, self._quick) for n in a)]
        ordered = []
        for alternative in rest:
            needles = sorted(set(alternative), key=_rarity, reverse=True)
            ordered.append((needles[0], tuple(needles[1:])))
        self._alternatives = sorted(ordered)
        self._patterns = {n.value: re.compile(n.value) for a in alternatives for n in a if n.kind == "pattern"}

    def may_match(self, text: str) -> bool:
        if self.always:
            return True
        for value in self._quick:
            if value in text:
                return True
        known: dict[Needle, bool] = {}
        lowered: list[str] = []
        imports: list[list[str]] = []

        def statements() -> list[str]:
            if not imports:
                imports.append(import_statements(text))
            return imports[0]

        def present(needle: Needle) -> bool:
            found = known.get(needle)
            if found is None:
                kind = needle.kind
                if kind == "text":
                    found = needle.value in text
                elif kind == "itext":
                    if not lowered:
                        lowered.append(text.lower())
                    found = needle.value in lowered[0]
                elif kind == "pattern":
                    found = self._patterns[needle.value].search(text) is not None
                elif kind == "member":
                    found = _spelled(text, needle.value, True) or any(_has_word(s, needle.value) for s in statements())
                elif kind == "module":
                    found = _imports_module(text, needle.value, statements())
                else:
                    found = _spelled(text, needle.value, kind == "attr")
                known[needle] = found
            return found

        for key, others in self._alternatives:
            if present(key) and all(present(n) for n in others):
                return True
        return False


def _implied_absent(needle: Needle, missing: Sequence[str]) -> bool:
    """Is `needle` absent from every text that lacks all of `missing` (plain substrings)?"""
    return needle.kind in ("word", "attr", "text", "member", "module") and any(m in needle.value for m in missing)


def import_statements(text: str) -> list[str]:
    """The text of every import statement (from its line's start to its end: parentheses and
    backslash continuations followed), found from the `import` keyword's occurrences."""
    found: list[str] = []
    at = text.find("import")
    while at != -1:
        after = at + 6
        if _whole_word(text, at, 6):
            start = max(text.rfind("\n", 0, at), text.rfind("\r", 0, at)) + 1
            while start > 1 and text[start - 2 : start] in ("\\\n", "\\\r") or text[max(0, start - 3) : start] == "\\\r\n":
                start = max(text.rfind("\n", 0, start - 2), text.rfind("\r", 0, start - 2)) + 1  # a continued line
            end = _line_end(text, after)
            opened = text.find("(", after, end)
            if opened != -1 and text.find(")", opened, end) == -1:
                end = _line_end(text, max(text.find(")", opened), opened))
            while end > after and text[end - 1] == "\\":
                end = _line_end(text, end + 1)
            found.append(text[start:end])
            after = max(after, end)
        at = text.find("import", after)
    return found


def _line_end(text: str, at: int) -> int:
    ends = [i for i in (text.find("\n", at), text.find("\r", at)) if i != -1]
    return min(ends) if ends else len(text)


def _has_word(text: str, name: str) -> bool:
    return _spelled(text, name, False)


def _imports_module(text: str, module: str, statements: Sequence[str]) -> bool:
    """Is `module` (or a submodule) imported: `import a.b`, `from a.b.c import x`, or a string
    `"a.b..."` next to an `import_module` call?"""
    dotted = re.compile(r"(?<![\w.])%s(?![\w])" % r"\s*\.\s*".join(map(re.escape, module.split("."))))
    if any(dotted.search(s) for s in statements):
        return True
    return "import_module" in text and module in text



def _spelled(text: str, name: str, attribute: bool) -> bool:
    """Is `name` spelled as a whole identifier (after a `.` when `attribute`)?"""
    at = text.find(name)
    end = len(text)
    while at != -1:
        after = at + len(name)
        if (at == 0 or not _word_char(text[at - 1])) and (after == end or not _word_char(text[after])):
            if not attribute or _after_dot(text, at):
                return True
        at = text.find(name, after)
    return False


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _after_dot(text: str, at: int) -> bool:
    """Is the name at `at` an attribute: a `.` before it, across spaces, backslash continuations,
    line breaks and comment-only lines (`x.  # note` + newline + `item()` inside brackets)?"""
    i = at - 1
    while i >= 0:
        char = text[i]
        if char == ".":
            return True
        if char in " \t\f\\":
            i -= 1
            continue
        if char not in "\r\n":
            return False
        # a line break: the previous line's code (what precedes its comment) must end with the dot
        start = max(text.rfind("\n", 0, i), text.rfind("\r", 0, i)) + 1
        code = text[start:i].split("#", 1)[0].rstrip(" \t\f\\")
        if code:
            return code.endswith(".")
        i = start - 1  # a blank or comment-only line: keep looking above it
    return False


def line_needles_of(rule: Rule) -> list[Needle] | None:
    """Needles of which one is spelled inside every statement that holds a site of `rule` (None:
    no such promise, visit every statement). A qualified name's site spells any one of its parts
    or an import alias standing for it (`LineNeedles.hideable`: the scan adds those aliases)."""
    m = rule.match
    kind = m["kind"]
    if kind in ("call", "reference", "assign", "import", "module-variable"):
        return [_rarest_part(name) for name in m["names"]]
    if kind == "method":
        return [Needle("attr", name) for name in m["names"]]
    if kind == "argument":
        # the `keyword=value` pattern, or the keyword's word (spelled in the statement either way)
        first = alternatives_of(rule)[0]
        keyword_form = [next((n for n in first if n.kind == "pattern" and "=" in n.value), _word(m["keyword"]))]
        positional = [_rarest_part(name) for name in m["names"]] if "position" in m else []
        return keyword_form + positional
    if kind in ("device-string", "device-idiom", "environ", "identifier", "string", "dict-entry"):
        return sorted({n for alt in alternatives_of(rule) for n in alt if n.kind != "pattern"})
    if kind in ("file", "manifest"):
        return []
    return None


def _rarest_part(qualified: str) -> Needle:
    """The part of a qualified name to look for on a line. A CUDA-named part is found by the
    `cuda` substring every CUDA rule looks for anyway (one search instead of one per name)."""
    parts = _components(qualified)
    for part in parts:
        if "cuda" in part.value.lower():
            return Needle("itext", "cuda")
        if "nccl" in part.value:
            return Needle("text", "nccl")  # (the string rule's needle)
    return max(parts, key=_rarity)


class LineNeedles:
    """Where in a source a site can be: the offsets of every line needle of the rules.

    The cost is one `str.find` pass over the text per searched string, so needles share passes:
    words and attributes that begin with another needle's word (`unique`, `unique_consecutive`;
    `.double` and `double`) are found by that word's pass, and `keyword=value` patterns of one
    keyword are one pattern."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        needles: set[Needle] = set()
        self.everywhere = False
        for rule in rules:
            found = line_needles_of(rule)
            if found is None:
                self.everywhere = True
            else:
                needles.update(found)
        # a substring searched in any case already finds it in this case: search it once
        anycase = {n.value for n in needles if n.kind == "itext"}
        # (and a text holding one, `CUDA_VISIBLE_DEVICES` or `torch.cuda`: its lines are found already)
        needles = {n for n in needles if not (n.kind == "text" and any(a in n.value.lower() for a in anycase))}
        self.needles = sorted(needles)
        self.texts = sorted(n.value for n in needles if n.kind == "text")
        self.itexts = sorted(n.value for n in needles if n.kind == "itext")
        # names: search key -> [(name, attribute only?)] for every name that starts with the key
        names = sorted({(n.value, n.kind == "attr") for n in needles if n.kind in ("word", "attr")})
        keys = sorted({v for v, _ in names}, key=len)
        self.names: dict[str, list[tuple[str, bool]]] = {}
        for value, attribute in names:
            key = next(k for k in keys if value.startswith(k))
            self.names.setdefault(key, []).append((value, attribute))
        by_keyword: dict[str, list[str]] = {}
        for n in needles:
            if n.kind == "pattern":
                keyword = re.match(r"[A-Za-z_]*", n.value).group()  # type: ignore[union-attr]
                by_keyword.setdefault(keyword, []).append(n.value)
        self.patterns = [re.compile("|".join(f"(?:{p})" for p in sorted(group))) for group in by_keyword.values()]
        # what an import alias can hide: a local name for something whose qualified name spells one
        self.hideable = tuple(sorted({n.value.lower() for n in needles if n.kind != "pattern"}))
        self._hides: dict[tuple[str, str], bool] = {}  # the same imports recur across a tree's files

    def hides(self, local: str, qualified: str) -> bool:
        """Does the import alias `local` (for `qualified`) stand for a name that spells a needle its
        own name does not (`from torch.cuda import synchronize as wait`)?"""
        key = (local, qualified)
        found = self._hides.get(key)
        if found is None:
            low_local, low_qualified = local.lower(), qualified.lower()
            found = self._hides[key] = any(v in low_qualified and v not in low_local for v in self.hideable)
        return found

    def offsets(self, source: str) -> list[int] | None:
        """Sorted offsets of every needle occurrence; None when every line must be visited."""
        if self.everywhere:
            return None
        found: list[int] = []
        for pattern in self.patterns:
            found += [m.start() for m in pattern.finditer(source)]
        for value in self.texts:
            at = source.find(value)
            while at != -1:
                found.append(at)
                at = source.find(value, at + 1)
        if self.itexts:
            lowered = source.lower()
            if len(lowered) != len(source):
                return None  # a character whose lower case is longer: offsets would shift
            for value in self.itexts:
                at = lowered.find(value)
                while at != -1:
                    found.append(at)
                    at = lowered.find(value, at + 1)
        for key, members in self.names.items():
            at = source.find(key)
            while at != -1:
                for value, attribute in members:
                    if source.startswith(value, at) and _whole_word(source, at, len(value)) and (not attribute or _after_dot(source, at)):
                        found.append(at)
                        break
                at = source.find(key, at + 1)
        found.sort()
        return found


def _whole_word(text: str, at: int, size: int) -> bool:
    after = at + size
    return (at == 0 or not _word_char(text[at - 1])) and (after == len(text) or not _word_char(text[after]))
