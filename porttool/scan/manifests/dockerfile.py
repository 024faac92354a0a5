"""Dockerfiles (and Containerfiles): base images, CUDA environment variables, and the packages and
indexes `RUN` lines install.

- Instructions are read as Docker reads them: a line ending in the escape character (`\\`, or
  the one a `# escape=` directive names) goes on, comment lines inside go, positions map back to
  the physical lines.
- `FROM [--platform=...] IMAGE [AS stage]`: an image entry; `$VAR` / `${VAR}` / `${VAR:-x}`
  are resolved from the `ARG` defaults declared before; a stage name is not an image.
- `ENV KEY=value ...` and `ENV KEY value`: an env entry per key.
- `RUN` (shell form; a `#` starting a word is a shell comment, which suppressions read): each command of `&&`/`||`/`;`/`|` chains that is `pip install`, `pip3
  install`, `python -m pip install`, `uv pip install` (packages, `--index-url` /
  `--extra-index-url` / `--find-links` indexes), or `conda|mamba|micromamba install|create`
  (conda packages, `-c` channels).

Not read: the exec form `RUN ["pip", "install", ...]`, heredocs, `apt-get install` of CUDA
packages, and what a script copied into the image installs.
"""

from __future__ import annotations

import bisect
import os
import re
from dataclasses import dataclass

from porttool.model import Span
from porttool.scan.manifests.entries import CHANNEL, ENV, IMAGE, INDEX, PACKAGE, Entry, Manifest
from porttool.scan.manifests.conda import CONDA_SPEC
from porttool.scan.manifests.requirements import requirement_entry

PIP_INDEX_OPTIONS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links"}
PIP_VALUE_OPTIONS = PIP_INDEX_OPTIONS | {
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-t", "--target", "--prefix", "--root", "--src",
    "--upgrade-strategy", "--progress-bar", "--cache-dir", "--python-version", "--platform", "--implementation", "--abi",
    "--only-binary", "--no-binary", "--config-settings", "-C", "--global-option", "--install-option", "--log", "--proxy",
    "--retries", "--timeout", "--trusted-host", "--report", "--python", "-p", "--keyring-provider", "--exists-action",
    "--root-user-action", "--index-strategy", "--torch-backend", "--group", "--extra", "--resolution", "--prerelease",
}
CONDA_VALUE_OPTIONS = {"-n", "--name", "-p", "--prefix", "-c", "--channel", "--file", "--solver", "--repodata-fn", "--subdir", "--platform"}
OPERATORS = re.compile(r"&&|\|\||[;|&()]")
VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::?[-+](?P<default>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class Token:
    value: str  # unquoted
    start: int  # offset in the instruction's text of its first character (inside a quote when quoted)
    quoted: bool


class Instruction:
    """One logical instruction: its text and where each character came from."""

    def __init__(self) -> None:
        self.text = ""
        self.starts: list[int] = []  # offset in `text` where each segment begins
        self.places: list[tuple[int, int]] = []  # (line, column) of each segment's first character

    def add(self, segment: str, line: int, column: int) -> None:
        self.starts.append(len(self.text))
        self.places.append((line, column))
        self.text += segment

    def at(self, offset: int) -> tuple[int, int]:
        i = max(bisect.bisect_right(self.starts, offset) - 1, 0)
        line, column = self.places[i]
        return line, column + offset - self.starts[i]

    def span(self, start: int, end: int) -> Span:
        line, column = self.at(start)
        end_line, end_column = self.at(max(end - 1, start))
        return Span(line, column, end_line, end_column + (1 if end > start else 0))


def _instructions(text: str) -> tuple[list[Instruction], list[tuple[int, str]]]:
    escape = "\\"
    comments: list[tuple[int, str]] = []
    out: list[Instruction] = []
    current: Instruction | None = None
    directives = True
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            comments.append((number, stripped))
            if directives:
                directive = re.match(r"#\s*escape\s*=\s*(\S)", stripped, re.I)
                if directive:
                    escape = directive.group(1)
            continue  # a comment line, also inside a continued instruction
        directives = False
        if not stripped:
            continue
        body = raw.rstrip()
        continued = body.endswith(escape)
        if continued:
            body = body[:-1]
        if current is None:
            current = Instruction()
            indent = len(body) - len(body.lstrip())
            current.add(body[indent:], number, indent)
        else:
            current.add(body, number, 0)
        if not continued:
            out.append(current)
            current = None
    if current is not None:
        out.append(current)
    return out, comments


def _words(text: str, start: int = 0, comments: list[int] | None = None) -> list[Token]:
    """Shell words of `text[start:]` (quotes removed, operators as their own tokens). With
    `comments`, a `#` starting a word ends the words (a shell comment; its offset is added)."""
    tokens: list[Token] = []
    i = start
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == "#" and comments is not None and (i == start or text[i - 1].isspace()):
            comments.append(i)
            break
        op = OPERATORS.match(text, i)
        if op:
            tokens.append(Token(op.group(0), i, False))
            i = op.end()
            continue
        if c in "\"'":
            end = text.find(c, i + 1)
            end = len(text) if end < 0 else end
            tokens.append(Token(text[i + 1 : end], i + 1, True))
            i = end + 1
            continue
        m = re.compile(r"(?:\\.|[^\s;&|()\"'])+").match(text, i)
        end = m.end() if m else i + 1
        tokens.append(Token(text[i:end], i, False))
        i = end
    return tokens


def _commands(tokens: list[Token]) -> list[list[Token]]:
    commands: list[list[Token]] = [[]]
    for token in tokens:
        if not token.quoted and OPERATORS.fullmatch(token.value):
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def _program(command: list[Token]) -> tuple[str, list[Token]]:
    """('pip' | 'conda' | '', the arguments after `install`/`create`) for one command."""
    words = list(command)
    while words and (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0].value) or words[0].value in ("sudo", "time", "exec", "env", "nohup")):
        words = words[1:]  # `FOO=1 pip install`, `sudo pip install`
    names = [os.path.basename(w.value) for w in words]
    if len(names) > 2 and re.fullmatch(r"python[0-9.]*", names[0]) and names[1] == "-m":
        words, names = words[2:], names[2:]  # `python -m pip ...`, `python3 -m uv pip ...`
    if names[:2] == ["uv", "pip"]:
        words, names = words[1:], ["pip"] + names[2:]
    verbs: tuple[str, ...]
    if names and re.fullmatch(r"pip[0-9.]*", names[0]):
        program, verbs = "pip", ("install",)
    elif names and names[0] in ("conda", "mamba", "micromamba"):
        program, verbs = "conda", ("install", "create", "update")
    else:
        return "", []
    for i in range(1, len(words)):
        if not words[i].value.startswith("-"):  # the subcommand, after any global options
            return (program, words[i + 1 :]) if words[i].value in verbs else ("", [])
    return "", []


def _resolve(image: str, args: dict[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group("braced") or m.group("bare")
        return args.get(name) or m.group("default") or m.group(0)

    return VARIABLE.sub(value, image)


def parse_dockerfile(text: str) -> Manifest:
    instructions, comments = _instructions(text)
    entries: list[Entry] = []
    args: dict[str, str] = {}
    stages: set[str] = set()
    for ins in instructions:
        head = re.match(r"\s*([A-Za-z]+)\s*", ins.text)
        if head is None:
            continue
        keyword, rest_at = head.group(1).upper(), head.end()
        if keyword == "ARG":
            for token in _words(ins.text, rest_at):
                name, eq, default = token.value.partition("=")
                if eq:
                    args[name] = default.strip("\"'")
        elif keyword == "FROM":
            tokens = [t for t in _words(ins.text, rest_at) if not t.value.startswith("--")]
            if not tokens:
                continue
            image = tokens[0]
            if len(tokens) >= 3 and tokens[1].value.lower() == "as":
                stages.add(tokens[2].value.lower())
            resolved = _resolve(image.value, args)
            if resolved.lower() in stages or resolved.lower() == "scratch":
                continue
            entries.append(Entry(IMAGE, resolved, ins.span(image.start, image.start + len(image.value))))
        elif keyword == "ENV":
            tokens = _words(ins.text, rest_at)
            if tokens and "=" not in tokens[0].value:
                tokens = tokens[:1]  # `ENV KEY value with spaces`
            for token in tokens:
                key = token.value.split("=", 1)[0]
                if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                    entries.append(Entry(ENV, key, ins.span(token.start, token.start + len(key))))
        elif keyword == "RUN" and not ins.text[rest_at:].lstrip().startswith(("[", "<<")):
            shell_comments: list[int] = []
            words = _words(ins.text, rest_at, shell_comments)
            for at in shell_comments:  # `RUN pip install x  # porttool: ignore[PT750]`
                line, _ = ins.at(at)
                comments.append((line, ins.text[at:]))
            for command in _commands(words):
                program, arguments = _program(command)
                if program == "pip":
                    entries += _pip(ins, arguments)
                elif program == "conda":
                    entries += _conda(ins, arguments)
    return Manifest(tuple(entries), tuple(comments))


def _pip(ins: Instruction, arguments: list[Token]) -> list[Entry]:
    found: list[Entry] = []
    i = 0
    while i < len(arguments):
        token = arguments[i]
        option, eq, value = token.value.partition("=")
        if token.value.startswith("-"):
            if option in PIP_VALUE_OPTIONS and not eq and i + 1 < len(arguments):
                i += 1
                value_token = arguments[i]
                value, value_start = value_token.value, value_token.start
            else:
                value_start = token.start + len(option) + 1
            if option in PIP_INDEX_OPTIONS and value:
                found.append(Entry(INDEX, value, ins.span(value_start, value_start + len(value))))
        else:
            line, column = ins.at(token.start)
            entry = requirement_entry(token.value, line, column)
            if entry is not None:
                found.append(entry)
        i += 1
    return found


def _conda(ins: Instruction, arguments: list[Token]) -> list[Entry]:
    found: list[Entry] = []
    i = 0
    while i < len(arguments):
        token = arguments[i]
        option, eq, value = token.value.partition("=")
        if token.value.startswith("-"):
            value_start = token.start + len(option) + 1
            if option in CONDA_VALUE_OPTIONS and not eq and i + 1 < len(arguments):
                i += 1
                value, value_start = arguments[i].value, arguments[i].start
            if option in ("-c", "--channel") and value:
                found.append(Entry(CHANNEL, value, ins.span(value_start, value_start + len(value)), installer="conda"))
        else:
            spec = CONDA_SPEC.match(token.value)
            if spec is not None:
                if spec.group("channel"):
                    found.append(Entry(CHANNEL, spec.group("channel"), ins.span(token.start, token.start + spec.end("channel")), installer="conda"))
                found.append(Entry(PACKAGE, spec.group("name"), ins.span(token.start + spec.start("name"), token.start + len(token.value)), spec.group("version"), installer="conda"))
        i += 1
    return found
