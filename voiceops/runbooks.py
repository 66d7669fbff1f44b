"""The runbooks' commands against the real task tree: every `invoke` command in runbooks/*.md
names a task the `invoke` command loads, with flags that task takes, and every `nox -s` a
session the noxfile registers. The tree comes from invoke itself, never from a list of ours."""

from __future__ import annotations

import difflib
import functools
import importlib.util
import re
import shlex
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path

import nox
from invoke import Collection, Config, Program
from invoke.loader import FilesystemLoader
from invoke.parser import Argument, ParserContext

from voiceops.toolchain import ROOT, shown

RUNBOOKS = ROOT / "runbooks"
NOXFILE = ROOT / "noxfile.py"

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*(\S*)")
SHELL_FENCES = {"", "sh", "bash", "shell", "console", "zsh"}
SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
PLACEHOLDER = re.compile(r"<[A-Za-z][^<>\s]*>")
SEPARATORS = {";", "&", "&&", "||", "|"}
REDIRECT = re.compile(r"[<>]+&?")
ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=")
PROGRAMS = ("invoke", "nox")
NOX_SESSION_FLAGS = {"-s", "-e", "--session", "--sessions"}


@dataclass(frozen=True)
class TaskTree:
    """What invoke's parser knows: each task's parser context by name and alias, and the core flags."""

    tasks: Mapping[str, ParserContext]
    core: ParserContext

    @classmethod
    def of(cls, collection: Collection) -> TaskTree:
        tasks = {
            name: context for context in collection.to_contexts() for name in (context.name, *context.aliases)
        }
        program = Program()
        return cls(tasks, ParserContext(args=program.core_args() + program.task_args()))

    @classmethod
    def load(cls, root: Path = ROOT) -> TaskTree:
        """The project's task tree, loaded the way the `invoke` command loads it (Program.load_collection)."""
        config = Config()
        module, parent = FilesystemLoader(config=config, start=str(root)).load()
        config.set_project_location(parent)
        config.load_project()
        return cls.of(
            Collection.from_module(module, loaded_from=parent, auto_dash_names=config.tasks.auto_dash_names)
        )


@functools.cache  # nox warns when a session registers twice in one process
def nox_sessions(noxfile: Path = NOXFILE) -> frozenset[str]:
    """The session names the noxfile registers, from nox's own registry after loading it."""
    spec = importlib.util.spec_from_file_location("user_nox_module", noxfile)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {noxfile}")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    return frozenset(nox.registry.get())


@dataclass(frozen=True)
class Command:
    line: int
    text: str  # as the runbook writes it
    program: str  # invoke or nox
    argv: list[str]  # what follows the program, placeholders kept, optional brackets dropped


@dataclass(frozen=True)
class Report:
    files: int
    commands: int
    problems: list[str]


def _code_lines(block: Sequence[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """A code block's command lines, a line ending in a backslash joined with the next."""
    start, text = 0, ""
    for number, line in block:
        start, text = start or number, text + line.strip()
        if text.endswith("\\"):
            text = text[:-1].rstrip() + " "
            continue
        yield start, text
        start, text = 0, ""
    if start:
        yield start, text


def _spans(paragraph: Sequence[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """A paragraph's inline code spans (one may wrap onto the next line)."""
    if not paragraph:
        return
    text = "\n".join(line for _, line in paragraph)
    for match in SPAN.finditer(text):
        line = paragraph[0][0] + text[: match.start(2)].count("\n")
        yield line, match.group(2).replace("\n", " ").strip()


def snippets(markdown: str) -> Iterator[tuple[int, str]]:
    """Each piece of shell a markdown text shows, with its line number: every line of a shell
    fenced block or of an indented code block, and every inline code span."""
    fence = ""  # the open fence's backticks or tildes
    shell = False  # the open fence holds shell
    in_code = False  # the last text line belongs to an indented code block
    blank = True  # the last line was blank (or there was none)
    code: list[tuple[int, str]] = []
    prose: list[tuple[int, str]] = []

    def flush() -> Iterator[tuple[int, str]]:
        yield from _code_lines(code)
        yield from _spans(prose)
        code.clear()
        prose.clear()

    for number, line in enumerate(markdown.splitlines(), start=1):
        if fence:
            if re.match(rf" {{0,3}}{fence[0]}{{{len(fence)},}}\s*$", line):
                yield from flush()
                fence, blank = "", True
            elif shell:
                code.append((number, line))
            continue
        if match := FENCE.match(line):
            yield from flush()
            fence, shell, in_code = match.group(1), match.group(2) in SHELL_FENCES, False
            continue
        if not line.strip():
            yield from flush()
            blank = True
            continue
        # An indented line with code spans in it is a list item's paragraph, not code.
        if line.startswith("    ") and (blank or in_code) and "`" not in line:
            code.append((number, line))
            in_code = True
        else:
            if code:
                yield from flush()
            prose.append((number, line))
            in_code = False
        blank = False
    yield from flush()


def shell_commands(text: str) -> list[tuple[str, list[str]]]:
    """The `invoke` and `nox` commands of one piece of shell, as (program, arguments): split at
    ;, &&, || and |, without redirections, environment assignments or a `$ ` prompt, with
    `<placeholders>` kept as values and the brackets of `[optional parts]` dropped.
    Raises ValueError when the text is not shell (an unclosed quote)."""
    # Quoted, a placeholder stays one word instead of a pair of redirections.
    lexer = shlex.shlex(PLACEHOLDER.sub(lambda m: shlex.quote(m.group()), text), posix=True,
                        punctuation_chars=";&|<>")  # fmt: skip
    lexer.whitespace_split = True
    lexer.commenters = "#"
    segments: list[list[str]] = [[]]
    words = list(lexer)
    while words:
        word = words.pop(0)
        if word in SEPARATORS:
            segments.append([])
        elif REDIRECT.fullmatch(word):
            if segments[-1] and segments[-1][-1].isdigit():  # 2>&1: the 2 is a file descriptor
                segments[-1].pop()
            if words:
                words.pop(0)
        elif stripped := word.lstrip("[").rstrip("]"):
            segments[-1].append(stripped)
    commands: list[tuple[str, list[str]]] = []
    for segment in segments:
        while segment and (segment[0] == "$" or ASSIGNMENT.match(segment[0])):
            segment.pop(0)
        if len(segment) > 1 and Path(segment[0]).name in PROGRAMS:
            commands.append((Path(segment[0]).name, segment[1:]))
    return commands


def commands(path: Path) -> tuple[list[Command], list[str]]:
    """The commands a runbook gives, and one problem line for each snippet that starts like a
    command but is not shell."""
    found: list[Command] = []
    problems: list[str] = []
    for line, text in snippets(path.read_text()):
        try:
            parsed = shell_commands(text)
        except ValueError as error:
            if Path(text.split()[0]).name in PROGRAMS:
                problems.append(f"{shown(path)}:{line}: not a shell command ({error}) in `{text}`")
            continue
        found += [Command(line, text, program, argv) for program, argv in parsed]
    return found, problems


def _flag(context: ParserContext, name: str) -> Argument | None:
    """The argument a flag sets, by name, short name or `--no-` inverse (Lexicon.get ignores aliases)."""
    if name in context.flags:
        return context.flags[name]
    if name in context.inverse_flags:
        return context.flags[context.inverse_flags[name]]
    return None


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _no_flag(task: str, context: ParserContext, name: str) -> str:
    if not task:
        return f"invoke has no core flag {name}"
    names = [*context.flags.keys(), *context.inverse_flags.keys()]
    hint = _did_you_mean(name, names) or (
        f" (its flags: {', '.join(names)})" if names else " (it takes none)"
    )
    return f"{task} has no flag {name}{hint}"


def invoke_problems(argv: Sequence[str], tree: TaskTree) -> list[str]:
    """What in one invoke command line invoke's parser would not know, read in the order it
    reads words (invoke.parser.ParseMachine.handle): the current task's flags (the core flags
    before any task), a value a flag waits for, a positional argument, a task name, a core flag
    given after a task (`--help`)."""
    problems: list[str] = []
    task = ""
    context = tree.core
    waiting: Argument | None = None  # a flag whose value comes next
    waiting_as = ""  # that flag as the command writes it
    positionals: list[Argument] = []
    words = deque(argv)
    lost = False  # after an unknown task: its flags cannot be checked, skip to the next task

    def needs_value() -> str:
        return f"{waiting_as} of {task or 'invoke'} needs a value"

    while words:
        word = words.popleft()
        if word == "--":
            break  # the rest goes to the task untouched
        if lost and word not in tree.tasks:
            continue
        lost = False
        name, attached = word, False  # attached: --flag=value
        if waiting is None and word.startswith("-") and "=" in word:
            name, _, value = word.partition("=")
            words.appendleft(value)
            attached = True
        elif waiting is None and re.fullmatch(r"-[^-].+", word):
            # -abc: boolean short flags together, or one short flag and its value
            name, rest = word[:2], word[2:]
            flag = _flag(context, name)
            words.extendleft(reversed([rest] if flag and flag.takes_value else [f"-{c}" for c in rest]))
        if (flag := _flag(context, name)) is not None:
            if waiting is not None and not waiting.optional:
                problems.append(needs_value())
            waiting, waiting_as = (flag, name) if flag.takes_value else (None, "")
            if attached and waiting is None:
                problems.append(f"{name} of {task or 'invoke'} takes no value")
                words.popleft()
        elif waiting is not None and not (waiting.optional and word in tree.tasks):
            waiting = None
        elif positionals:
            positionals.pop(0)
        elif word in tree.tasks:
            task, context, waiting = word, tree.tasks[word], None
            positionals = list(context.positional_args)
        elif task and name in tree.core.flags:
            core = tree.core.flags[name]
            # --help after a task takes that task as its value
            waiting, waiting_as = (core, name) if core.takes_value and core.name != "help" else (None, "")
        elif word.startswith("-"):
            problems.append(_no_flag(task, context, name))
            if attached or (words and not words[0].startswith("-") and words[0] not in tree.tasks):
                words.popleft()  # its value, not a task name
        else:
            problems.append(f"no task {word!r}{_did_you_mean(word, tree.tasks)}")
            lost = True
    if waiting is not None and not waiting.optional:
        problems.append(needs_value())
    return problems


def nox_problems(argv: Sequence[str], sessions: Set[str]) -> list[str]:
    """The sessions a nox command line names (-s, -e, --session(s)) that the noxfile lacks."""
    named: list[str] = []
    collecting = False
    for word in argv:
        if word == "--":
            break
        if word in NOX_SESSION_FLAGS:
            collecting = True
        elif word.startswith("-"):
            flag, _, value = word.partition("=")
            collecting = False
            if flag in NOX_SESSION_FLAGS and value:
                named.append(value)
        elif collecting:
            named.append(word)
    return [
        f"no nox session {name!r}{_did_you_mean(name, sessions)}" for name in named if name not in sessions
    ]


def check(paths: Sequence[Path], tree: TaskTree, sessions: Set[str]) -> Report:
    """Every command in the given runbooks against the task tree and the nox sessions: one
    line per problem, naming file:line, what is unknown and the command."""
    count = 0
    problems: list[str] = []
    for path in paths:
        found, unreadable = commands(path)
        problems += unreadable
        for command in found:
            count += 1
            if command.program == "invoke":
                wrong = invoke_problems(command.argv, tree)
            else:
                wrong = nox_problems(command.argv, sessions)
            problems += [f"{shown(path)}:{command.line}: {what} in `{command.text}`" for what in wrong]
    if count == 0:
        problems.append(f"no invoke or nox command found in {len(paths)} file(s)")
    return Report(files=len(paths), commands=count, problems=problems)


def check_all(directory: Path = RUNBOOKS) -> Report:
    """Every runbooks/*.md against the project's task tree and noxfile."""
    return check(sorted(directory.glob("*.md")), TaskTree.load(), nox_sessions())
