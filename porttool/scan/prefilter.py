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

Each needle also says where its spelling counts (`scope`): in **code** (names, attributes, import
statements: a `.item()` in a comment or a docstring is no site) or among **values** (code and
string literals, as a device string, an environment key or a string rule's value is spelled).

A rule can match only where one of its *alternatives* — a set of needles that must all be
present — holds; a file is parsed only when some rule's alternative holds. The test runs twice:
first over the raw text (a few `str.find`s: most files of a tree stop here), then, for a file
that passed, with each hit judged by where it sits (`Tokens`: the spans of its comments and
string literals), so a file whose trigger words sit only in comments and prose is not parsed.

The test never decides a result on its own: a file it lets through is scanned in full, so
over-inclusion costs time and never findings; what it must never do is reject a file that holds a site, and the needles above
are each implied by the matcher's own conditions (tests compare the scan with and without it).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from porttool.model import Rule



class Needle(NamedTuple):
    # "word" | "attr" | "text" | "itext" (a substring in any case) | "pattern" | "member" (the last
    # part of a qualified name: an attribute, or a name an import statement spells) | "module" (a
    # dotted module path an import statement or `import_module("...")` spells)
    kind: str
    value: str
    # "code": spelled in code (comments and string literals other than f-strings blanked);
    # "values": in code or a string literal (comments and string statements blanked)
    scope: str = "code"


Alternative = tuple[Needle, ...]
_LOWERED = Needle("derived", "lowered")  # (keys of a file's lowered text and import statements among its needles' results)
_IMPORTS = Needle("derived", "imports")


def _word(name: str) -> Needle:
    return Needle("word", name)


def _value(kind: str, value: str) -> Needle:
    """A needle spelled in a string literal as well as in code."""
    return Needle(kind, value, "values")


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
    """How an integer or boolean argument value is spelled in the source."""
    return r"\b%s\b" % re.escape(str(value))


def _value_alternatives(value: object) -> list[tuple[Needle, ...]]:
    """What spells a matched argument value, one tuple per way: a literal's word, a qualified
    name's last part (`torch.float16`, `th.float16`), a string literal's opening quote and start
    (`"nccl"`, `'nccl'`, `f"nccl"`)."""
    if isinstance(value, (bool, int)):
        return [(_word(str(value)),)]
    text = str(value)
    strings = [(_value("text", quote + _string_start(text)),) for quote in "\"'"]
    if "." in text and re.fullmatch(r"[\w.]+", text):  # a qualified name, or a string spelling one
        return [(_word(text.rsplit(".", 1)[-1]),), *strings]
    return strings


def _string_start(value: str) -> str:
    """What a string literal whose value is `value` spells right after its opening quote: the
    value up to its first quote, backslash or line break (an escape or a line break may spell the
    rest otherwise)."""
    return re.split(r"[\"'\\\r\n]", value, maxsplit=1)[0]


def alternatives_of(rule: Rule) -> list[Alternative]:
    """The alternatives under which `rule` can match a source (empty: a rule on file names)."""
    m = rule.match
    kind = m["kind"]
    if kind in ("call", "reference", "assign", "module-variable"):
        return [_qualified(name) for name in m["names"]]
    if kind == "import":  # (an import statement, or a string next to `import_module`)
        return [(_value("module", name),) for name in m["names"]]
    if kind == "method":
        if m.get("inside") == "loop":  # (a loop or a comprehension spells one of these)
            return [(Needle("attr", name), _word(loop)) for name in m["names"] for loop in ("for", "while")]
        return [(Needle("attr", name),) for name in m["names"]]
    if kind == "argument":
        values = m.get("values") or []
        ways = [way for v in values for way in _value_alternatives(v)] or [()]  # how the value is spelled
        if values and all(isinstance(v, (bool, int)) for v in values):
            # `keyword=0`, `keyword=True`: the literal follows the `=` (a parenthesis, line break or
            # comment may sit between); the pattern starts with the keyword's letters, which `re`
            # finds as fast as `str.find`
            literal = "(?:%s)" % "|".join(sorted({_literal_pattern(v) for v in values}))
            keyword: list[tuple[Needle, ...]] = [(Needle("pattern", r"%s\s*=(?:[\s(]|#[^\r\n]*(?=[\r\n]|$))*%s" % (re.escape(m["keyword"]), literal)),)]
        else:  # a string or a qualified name (`dtype=th.float16`): both spelled, not side by side
            keyword = [(_word(m["keyword"]),) + way for way in ways]
        found: list[Alternative] = []
        for name in m["names"]:
            callee = _qualified(name)
            found += [callee + k for k in keyword]
            if "position" in m:  # a positional use does not spell the keyword
                found += [callee + way for way in ways]
        return found
    if kind == "device-string":  # a string literal that starts `cuda` ("cuda:0", f"cuda:{i}", "cuda:%d" % i)
        return [(_value("text", quote + "cuda"),) for quote in "\"'"]
    if kind == "device-idiom":  # (`... if torch.cuda.is_available() else "cpu"`; `choices=["cuda", "cpu"]`)
        return [(Needle("text", "cuda"),), *((_value("text", quote + "cuda"),) for quote in "\"'")]
    if kind == "device-index-variable":  # (only in files that spell `cuda`)
        return [(Needle("text", "cuda"),)]
    if kind == "environ":
        # the variable's name is spelled in a string (any mapping: os.environ, a copied env dict,
        # a `{...}` literal, `monkeypatch.setenv`), and it spells one of the rule's triggers
        return [(_value("text", trigger), _value("pattern", m["pattern"])) for trigger in m["triggers"]]
    if kind == "identifier":
        words = re.findall(r"[A-Za-z]{3,}", m["pattern"])
        if not words:
            return [()]
        longest = max(words, key=len)  # (the matcher assumes it too: every match spells it)
        anycase = m["pattern"].startswith("(?i)")
        # a name in code, or a string that is an option name (`"--no-cuda"`: matcher.OPTION_STRING)
        option = _value("pattern", "%s[\"']--?[\\w-]*%s" % ("(?i)" if anycase else "", re.escape(longest)))
        spelled = _value("itext", longest.lower()) if anycase else _value("text", longest)
        return [(Needle(spelled.kind, spelled.value),), (spelled, option)]
    if kind == "dict-entry":  # `{"key": value}`, `dict(key=value)`: the key, then `:` or `=` and the value
        value = "(?:%s)" % "|".join(sorted({_literal_pattern(v) for v in m["values"]}))
        between = r"""["']?\s*[:=](?:[\s(]|#[^\r\n]*(?=[\r\n]|$))*"""
        return [(_value("text", key), _value("pattern", re.escape(key) + between + value)) for key in m["keys"]]
    if kind == "string":  # a value (a literal from its opening quote); or a pattern's trigger text and the pattern between quotes (not prose)
        flags, body = re.match(r"(\(\?[aiLmsux]+\))?(.*)", m.get("pattern", ""), re.S).groups()  # type: ignore[union-attr]
        quoted = (_value("pattern", r"""%s(?<=['"])(?:%s)(?=['"])""" % (flags or "", body)),) if "pattern" in m else ()
        values = [(_value("text", quote + _string_start(str(value))),) for value in m.get("values", ()) for quote in "\"'"]
        return values + [(_value("text", t),) + quoted for t in m.get("triggers", ())]
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
    the whole text costs ~50 ns a character, `str.find` a fraction of that. So, over the raw text:
    1. plain substrings that decide on their own (`cuda`: any device string) are tested first —
       that settles every CUDA file;
    2. alternatives that need one of those substrings are then impossible and dropped;
    3. each remaining alternative is tried by its rarest needle first (found with `str.find`, its
       word boundaries checked at each hit), and its other needles only when that one is present.
    Results per needle are kept for the file, so a needle shared by many alternatives is searched
    once. A file that passes is tested again the same way, each hit now counted only where its
    needle's scope says (`Tokens`: where the comments and string literals are): only there do the
    comments and docstrings that spell `cuda`, `.item()` or `float64` in prose stop counting.
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        alternatives = {alt for rule in rules for alt in alternatives_of(rule)}
        self.always = () in alternatives
        ordered = _ordered(alternatives)
        # the substrings that decide alone (in some scope) go first; without them, the
        # alternatives that need one of them are impossible
        quick = {a[0].value for a in alternatives if len(a) == 1 and a[0].kind == "text"}
        # a text holding another quick text (`"cuda` holds `cuda`) can never decide: not searched
        self._quick = sorted(q for q in quick if not any(o != q and o in q for o in quick))
        first = [a for a in ordered if not a[1] and a[0].kind == "text"]
        rest = [a for a in ordered if a not in first]
        self._with_quick = _grouped(first) + _grouped(rest)
        self._without_quick = _grouped([a for a in rest if not any(_implied_absent(n, self._quick) for n in (a[0], *a[1]))])
        self._patterns = {n.value: re.compile(n.value) for a in alternatives for n in a if n.kind == "pattern"}
        self._modules: dict[str, re.Pattern[str]] = {}  # (compiled when first needed: most runs never do)

    def may_match(self, text: str) -> bool:
        """Each alternative is tested over the raw text (cheap, and final for most files); only
        one that holds there is tested again with its hits judged by scope (the tokens are
        found once, for the first such alternative)."""
        if self.always:
            return True
        groups = self._with_quick if any(value in text for value in self._quick) else self._without_quick
        raw: dict[Needle, bool] = {}
        scoped: dict[Needle, bool] = {}
        tokens: list[Tokens] = []  # (found when first needed)
        present = self._present
        for key, alternatives in groups:  # (alternatives that share their rarest needle: tested once)
            if not present(key, text, None, raw):
                continue
            for others in alternatives:
                if not all(present(n, text, None, raw) for n in others):
                    continue
                if not tokens:
                    tokens.append(Tokens(text))
                try:
                    if self._holds((key, others), text, tokens[0], scoped):
                        return True
                except UntrustedTokens:
                    return True
        return False

    def _holds(self, alternative: tuple[Needle, tuple[Needle, ...]], text: str, tokens: Tokens | None, known: dict[Needle, bool]) -> bool:
        """Does `alternative` hold in `text`: with `tokens`, each needle counted only where its
        scope says; without, anywhere? (`known`: the needles' results so far, for this file.)"""
        key, others = alternative
        if not self._present(key, text, tokens, known):
            return False
        return all(self._present(n, text, tokens, known) for n in others)

    def _present(self, needle: Needle, text: str, tokens: Tokens | None, known: dict[Needle, bool]) -> bool:
        found = known.get(needle)
        if found is not None:
            return found
        kind, value = needle.kind, needle.value
        ok = None if tokens is None else tokens.judge(needle)
        if kind == "text":
            found = _found(text, value, ok)
        elif kind == "itext":
            low = known.get(_LOWERED)  # type: ignore[call-overload]
            if low is None:
                low = known[_LOWERED] = text.lower()  # type: ignore[index]
            found = _found(low, value, ok if len(low) == len(text) else None)
        elif kind == "pattern":
            pattern = self._patterns[value]
            found = pattern.search(text) is not None if ok is None else any(ok(m.start()) for m in pattern.finditer(text))
        elif kind in ("member", "module"):
            statements = known.get(_IMPORTS)  # type: ignore[call-overload]
            if statements is None:  # (one text: each on its own line)
                statements = known[_IMPORTS] = "\n".join(import_statements(text, tokens.in_code if tokens else None))  # type: ignore[index]
            if kind == "member":
                found = _spelled(text, value, True, ok) or _has_word(statements, value)
            else:
                pattern = self._modules.get(value)
                if pattern is None:
                    pattern = self._modules[value] = _module_pattern(value)
                found = pattern.search(statements) is not None
                if not found and _spelled(text, "import_module", False, tokens.in_code if tokens else None):
                    found = _found(text, value, ok)
        else:
            found = _spelled(text, value, kind == "attr", ok)
        known[needle] = found
        return found


def _ordered(alternatives: Iterable[Alternative]) -> list[tuple[Needle, tuple[Needle, ...]]]:
    """Each alternative as (its rarest needle, the others): the order to test them in."""
    ordered = []
    for alternative in alternatives:
        needles = sorted(set(alternative), key=_rarity, reverse=True)
        ordered.append((needles[0], tuple(needles[1:])))
    return sorted(ordered)


def _grouped(ordered: list[tuple[Needle, tuple[Needle, ...]]]) -> list[tuple[Needle, list[tuple[Needle, ...]]]]:
    """Alternatives grouped by their first needle, in order."""
    groups: dict[Needle, list[tuple[Needle, ...]]] = {}
    for key, others in ordered:
        groups.setdefault(key, []).append(others)
    return list(groups.items())


def _found(text: str, value: str, ok: Callable[[int], bool] | None) -> bool:
    """Is `value` in `text`, at a place `ok` accepts (anywhere without `ok`)?"""
    at = text.find(value)
    if ok is None:
        return at != -1
    while at != -1:
        if ok(at):
            return True
        at = text.find(value, at + 1)
    return False


# A comment, or a string literal from its opening quote (its prefix letters precede the match; an
# unterminated one runs to its line's or the text's end). Written as unrolled loops with literal
# first characters, so the regex engine scans at a few ns a character.
_TOKENS = re.compile(
    r"#[^\r\n]*"
    r'|"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*(?:"""|$)'
    r"|'''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*(?:'''|$)"
    r'|"[^"\\\r\n]*(?:\\.[^"\\\r\n]*)*"?'
    r"|'[^'\\\r\n]*(?:\\.[^'\\\r\n]*)*'?",
    re.S,
)
_PREFIX_LETTERS = "rRbBuUfFtT"


class UntrustedTokens(Exception):
    """The tokens before a hit cannot be trusted: the raw text decides."""


class Tokens:
    """Where a source's comments and string literals are, to judge a needle's hit by its scope:
    - in **code** a hit counts outside comments and strings, and inside f- and t-strings (their
      fields are code);
    - among **values** it counts in code and in a string's first line: every string a rule
      matches is matched from its start (a device string, an environment key, an option name),
      so a needle that starts with a quote (`"cuda`) counts only as the string's opening quote —
      not as a quote inside a docstring's example (`pipe.to("cuda")`)."""

    __slots__ = ("text", "starts", "ends", "_matches", "_known_to")

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] = []
        self.ends: list[int] = []
        self._matches = _TOKENS.finditer(text)  # found as far as a judged hit needs: often the start only
        self._known_to = 0  # every offset below this one is in a found token or in code

    def _find_to(self, at: int) -> None:
        text, starts, ends = self.text, self.starts, self.ends
        for match in self._matches:
            start, end = match.span()
            starts.append(start)
            ends.append(end)
            if start and text[start - 1] in _PREFIX_LETTERS and self._formatted(len(starts) - 1):
                if text.count("{", start, end) != text.count("}", start, end):
                    # a nested quote of the f-string's own kind (Python 3.12) ended the match early:
                    # what follows cannot be judged
                    raise UntrustedTokens
            if end > at:
                self._known_to = end
                return
        self._known_to = len(text) + 1

    def _token(self, at: int) -> int:
        """The index of the token holding offset `at`, or -1 (code)."""
        if at >= self._known_to:
            self._find_to(at)
        i = bisect_right(self.starts, at) - 1
        return i if i >= 0 and at < self.ends[i] else -1

    def _formatted(self, i: int) -> bool:
        """Is token `i` an f- or t-string (its prefix, up to two letters, spells f or t)?"""
        text, start = self.text, self.starts[i]
        at = start
        while at > 0 and start - at < 2 and text[at - 1] in _PREFIX_LETTERS:
            at -= 1
        if at > 0 and _word_char(text[at - 1]):
            return False  # (`if"x"`: a keyword, not a prefix)
        prefix = text[at:start]
        return "f" in prefix or "F" in prefix or "t" in prefix or "T" in prefix

    def in_code(self, at: int) -> bool:
        i = self._token(at)
        return i == -1 or (self.text[self.starts[i]] != "#" and self._formatted(i))

    def in_value(self, at: int) -> bool:
        i = self._token(at)
        if i == -1:
            return True
        text, start = self.text, self.starts[i]
        if text[start] == "#":
            return False
        return self._formatted(i) or (text.find("\n", start, at) == -1 and text.find("\r", start, at) == -1)

    def at_string_start(self, at: int) -> bool:
        """Is offset `at` a string's (last) opening quote?"""
        i = self._token(at)
        if i == -1:
            return True  # (no quote is outside a token: judge nothing there)
        text, start = self.text, self.starts[i]
        return text[start] != "#" and (at == start or (at == start + 2 and text.startswith(("'''", '"""'), start)))

    def judge(self, needle: Needle) -> Callable[[int], bool]:
        if needle.scope != "values":
            return self.in_code
        if needle.value.startswith(("'", '"', "[\"']")):
            return self.at_string_start
        return self.in_value


def _implied_absent(needle: Needle, missing: Sequence[str]) -> bool:
    """Is `needle` absent from every text that lacks all of `missing` (plain substrings)?"""
    return needle.kind in ("word", "attr", "text", "member", "module") and any(m in needle.value for m in missing)


def import_statements(text: str, ok: Callable[[int], bool] | None = None) -> list[str]:
    """The text of every import statement (from its line's start to its end: parentheses and
    backslash continuations followed), found from the `import` keyword's occurrences (those `ok`
    accepts, when given: the ones in code)."""
    found: list[str] = []
    at = text.find("import")
    while at != -1:
        after = at + 6
        if _whole_word(text, at, 6) and (ok is None or ok(at)):
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
    end = text.find("\n", at)
    if end == -1:
        end = len(text)
    found = text.find("\r", at, end)  # (searched only up to the \n: not to the text's end at every call)
    return end if found == -1 else found


def _has_word(text: str, name: str) -> bool:
    return _spelled(text, name, False)


def _module_pattern(module: str) -> re.Pattern[str]:
    """`module` (or a submodule) in an import statement: `import a.b`, `from a . b.c import x`."""
    return re.compile(r"(?<![\w.])%s(?![\w])" % r"\s*\.\s*".join(map(re.escape, module.split("."))))


def _spelled(text: str, name: str, attribute: bool, ok: Callable[[int], bool] | None = None) -> bool:
    """Is `name` spelled as a whole identifier (after a `.` when `attribute`), at a place `ok`
    accepts when given?"""
    at = text.find(name)
    end = len(text)
    while at != -1:
        after = at + len(name)
        if (at == 0 or not _word_char(text[at - 1])) and (after == end or not _word_char(text[after])):
            if (not attribute or _after_dot(text, at)) and (ok is None or ok(at)):
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
    if kind in ("file", "manifest", "device-index-variable"):
        return []  # (device-index-variable: matched by a pass of its own over the whole tree)
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
                needles.update(Needle(n.kind, n.value) for n in found)  # (scopes matter to the file test only)
        # a substring searched in any case already finds it in this case: search it once
        anycase = {n.value for n in needles if n.kind == "itext"}
        needles = {n for n in needles if not (n.kind == "text" and any(a in n.value.lower() for a in anycase))}  # (`"cuda` too)
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
