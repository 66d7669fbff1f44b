"""Seed requirements as data (infra/seed-requirements.yaml), checked on the code itself.

Each row names a requirement of the seeds, its status (implemented, deviates or
out-of-scope, the last two with their reason) and, where the repository can show it,
an address and a check. An address is a Terraform address inside a module directory
(every .tf file of the directory is parsed and merged, so a resource may move between
files) or a field of a YAML file (the registry, the release catalog, Helm values).
A check is one operator of a closed set. This module only interprets rows:
`invoke tf.requirements` prints them and fails on a malformed row or on a check that
does not hold.
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Literal

import hcl2
import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from voiceops.environments import Strict, load_yaml
from voiceops.errors import OpsError
from voiceops.toolchain import ROOT, shown

INFRA = ROOT / "infra" / "terraform"
REQUIREMENTS_FILE = ROOT / "infra" / "seed-requirements.yaml"
MISSING: Any = object()


class RequirementsBroken(OpsError):
    pass


class InvalidRequirements(OpsError):
    pass


# --- HCL --------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """python-hcl2 keeps quotes and ${} around values; strip them so checks compare plain values."""
    if isinstance(value, dict):
        return {_clean_key(key): _clean(item) for key, item in value.items() if not key.startswith("__")}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, str):
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            return value[1:-1]
        if value.startswith("${") and value.endswith("}") and value.count("${") == 1:
            return value[2:-1]
    return value


def _clean_key(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key.startswith('"') and key.endswith('"') else key


def parse_file(path: Path) -> dict[str, Any]:
    """One .tf file as {kind: {label...: body}}; repeated top-level blocks merged by kind."""
    with path.open() as handle:
        raw = hcl2.load(handle)
    merged: dict[str, Any] = {}
    for kind, blocks in raw.items():
        if not isinstance(blocks, list):
            merged[kind] = _clean(blocks)
            continue
        target = merged.setdefault(kind, {})
        for block in blocks:
            _merge(target, _clean(block))
    return merged


def _merge(target: dict, block: dict) -> None:
    for key, value in block.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


# --- addresses and paths ------------------------------------------------------------------

# var.<name>: the value a module receives (its default and every caller's argument);
# variable.<name>: the declaration block itself (type, default, validation).
ADDRESS = re.compile(
    r"(?P<kind>var|variable|module|local|output)\.(?P<name>[a-z0-9_-]+)"
    r"|data\.(?P<data_type>[a-z0-9_]+)\.(?P<data_name>[a-z0-9_-]+)"
    r"|(?P<type>[a-z][a-z0-9]*_[a-z0-9_]+)\.(?P<resource_name>[a-z0-9_-]+)"
)
KIND_BLOCKS = {
    "var": "variable",
    "variable": "variable",
    "module": "module",
    "local": "locals",
    "output": "output",
}
STEP = re.compile(r"(?P<name>[^.\[\]]+)(?:\[(?P<key>[A-Za-z0-9_]+)=(?P<value>[^\]]+)\])?")


@dataclass(frozen=True)
class Step:
    """One step of an attribute or field path: `rule` or `rule[name=rate-limit]`."""

    name: str
    selector: tuple[str, str] | None = None


@cache
def parse_path(text: str) -> tuple[Step, ...]:
    """`a.b[key=value].c` as steps; a selector picks the list item whose `key` is `value`."""
    steps, position = [], 0
    while True:
        match = STEP.match(text, position)
        if not match:
            raise ValueError(f"{text!r} is no path (steps `name` or `name[key=value]` joined by dots)")
        selector = (match["key"], match["value"]) if match["key"] else None
        steps.append(Step(match["name"], selector))
        position = match.end()
        if position == len(text):
            return tuple(steps)
        if text[position] != ".":
            raise ValueError(f"{text!r} is no path: unexpected {text[position]!r}")
        position += 1


def _block_key(address: str) -> tuple[str, ...]:
    """Where a Terraform address lives in a merged module document."""
    match = ADDRESS.fullmatch(address)
    if match is None:
        raise ValueError(f"{address!r} is no Terraform address")
    if match["kind"]:
        return (KIND_BLOCKS[match["kind"]], match["name"])
    if match["data_type"]:
        return ("data", match["data_type"], match["data_name"])
    return ("resource", match["type"], match["resource_name"])


# --- the data file's schema ---------------------------------------------------------------


class Status(StrEnum):
    IMPLEMENTED = "implemented"  # the check must hold
    DEVIATES = "deviates"  # the repository does it differently, or not yet: the reason says which
    OUT_OF_SCOPE = "out-of-scope"  # not this repository's to do: the reason says whose


OPERATORS = ("equals", "at_least", "at_most", "contains", "matches", "present", "absent")


class Check(Strict):
    """Exactly one operator. contains: list items, mapping keys or substrings, all of them."""

    equals: Any = None
    at_least: int | float | None = None
    at_most: int | float | None = None
    contains: Any = None
    matches: str | None = None
    present: Literal[True] | None = None
    absent: Literal[True] | None = None

    @model_validator(mode="after")
    def one_operator(self) -> Check:
        if len(self.model_fields_set) != 1:
            raise ValueError(f"give exactly one operator of {', '.join(OPERATORS)}")
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as error:
                raise ValueError(f"matches: {error}") from error
        return self

    @property
    def operator(self) -> str:
        return next(iter(self.model_fields_set))

    @property
    def expected(self) -> Any:
        return getattr(self, self.operator)

    def __str__(self) -> str:
        if self.operator in ("present", "absent"):
            return self.operator
        return f"{self.operator} {json.dumps(self.expected)}"


class Where(Strict):
    """A Terraform address in a module directory, or a field of a YAML file of the repository."""

    module: str | None = Field(None, pattern=r"^(modules|stacks)/[a-z0-9_-]+(/[a-z0-9_-]+)*$")
    address: str | None = None
    attribute: str | None = None
    file: str | None = Field(None, pattern=r"^[a-z0-9_.][a-z0-9_./-]*\.ya?ml$")
    field: str | None = None

    @field_validator("address")
    @classmethod
    def known_address(cls, value: str | None) -> str | None:
        if value is not None:
            _block_key(value)
        return value

    @field_validator("file")
    @classmethod
    def inside_the_repository(cls, value: str | None) -> str | None:
        if value is not None and ".." in value.split("/"):
            raise ValueError("a path inside the repository, without ..")
        return value

    @field_validator("attribute", "field")
    @classmethod
    def well_formed_path(cls, value: str | None) -> str | None:
        if value is not None:
            parse_path(value)
        return value

    @model_validator(mode="after")
    def one_form(self) -> Where:
        given = {name for name in ("module", "address", "attribute", "file", "field") if getattr(self, name)}
        if given not in ({"module", "address"}, {"module", "address", "attribute"}, {"file", "field"}):
            raise ValueError("give module + address (+ attribute), or file + field")
        return self

    def __str__(self) -> str:
        if self.file is not None:
            return f"{self.file} {self.field}"
        return f"{self.module} {self.address}" + (f".{self.attribute}" if self.attribute else "")


class Evidence(Strict):
    """Where the repository shows something, and the check that must hold there."""

    where: Where
    check: Check

    def __str__(self) -> str:
        return f"{self.where} {self.check}"


class Requirement(Strict):
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    seed: Literal["000", "001", "002", "003", "004"]
    section: str = Field(min_length=1)
    requirement: str = Field(min_length=1)
    status: Status
    reason: str | None = Field(None, min_length=1)
    where: Where | None = None
    check: Check | None = None

    @model_validator(mode="after")
    def consistent(self) -> Requirement:
        if (self.where is None) != (self.check is None):
            raise ValueError("where and check go together")
        if self.status is Status.IMPLEMENTED:
            if self.check is None:
                raise ValueError("an implemented requirement needs where and check")
            if self.reason is not None:
                raise ValueError("an implemented requirement takes no reason")
        elif self.reason is None:
            raise ValueError(f"status {self.status} needs a reason")
        return self


class RequirementsFile(Strict):
    requirements: tuple[Requirement, ...]

    @model_validator(mode="after")
    def unique_ids(self) -> RequirementsFile:
        if not self.requirements:
            raise ValueError("requirements: no row")
        seen: set[str] = set()
        for item in self.requirements:
            if item.id in seen:
                raise ValueError(f"id {item.id} given twice")
            seen.add(item.id)
        return self


def load_requirements(path: Path | None = None) -> tuple[Requirement, ...]:
    """The rows of the data file; an error names the file, the row and the field."""
    path = path or REQUIREMENTS_FILE
    if not path.is_file():
        raise InvalidRequirements(f"{shown(path)}: no such file")
    data = load_yaml(path, InvalidRequirements)
    try:
        # JSON mode: strict types, yet YAML lists and strings fill tuples and enums
        return RequirementsFile.model_validate_json(json.dumps(data, default=str)).requirements
    except ValidationError as error:
        raise InvalidRequirements(f"{shown(path)}: {_problems(data, error)}") from error


def _problems(data: Any, error: ValidationError) -> str:
    rows = data.get("requirements") if isinstance(data, dict) else None
    problems: list[str] = []
    for item in error.errors():
        location = list(item["loc"])
        where = ""
        if len(location) >= 2 and location[0] == "requirements" and isinstance(location[1], int):
            index = location[1]
            row = rows[index] if isinstance(rows, list) and index < len(rows) else None
            row_id = row.get("id") if isinstance(row, dict) else None
            where = f"requirements[{index}]" + (f" ({row_id})" if row_id else "")
            location = location[2:]
        # pydantic names the union member it tried (e.g. `int`); the field is what users wrote
        location = [part for part in location if not (isinstance(part, str) and part in ("int", "float"))]
        field_name = ".".join(str(part) for part in location)
        message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
        message = message.removeprefix("Value error, ")
        located = ": ".join(part for part in (where, field_name) if part)
        # a union reports once per member it tried: the first says enough
        if not any(problem.startswith(f"{located}: ") for problem in problems):
            problems.append(": ".join(part for part in (located, message) if part))
    return "; ".join(problems)


# --- the tree the checks read -------------------------------------------------------------


@cache
def _parsed(path: Path, mtime: float) -> dict[str, Any]:
    return parse_file(path)


@dataclass
class Tree:
    """Every .tf file under infra/terraform (parsed) and the YAML files the rows read."""

    infra: dict[str, dict[str, Any]]  # path relative to infra/terraform -> parsed file
    repository: Path
    documents: dict[str, Any]  # YAML path relative to the repository -> loaded on first use

    def files_of(self, directory: str) -> list[dict[str, Any]]:
        return [parsed for file, parsed in self.infra.items() if os.path.dirname(file) == directory]

    def module(self, directory: str) -> dict[str, Any]:
        """Every .tf file of a directory as one document. Block bodies are shared with the files,
        so a change to a body through this view is a change to the file's."""
        merged: dict[str, Any] = {}
        for parsed in self.files_of(directory):
            for kind, blocks in parsed.items():
                target = merged.setdefault(kind, {})
                for label, body in blocks.items():
                    if kind in ("resource", "data"):  # labelled by type, then by name
                        target.setdefault(label, {}).update(body)
                    else:
                        target[label] = body
        return merged

    def callers(self, directory: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(calling directory, module name, body) of every module block whose source is `directory`."""
        calls = []
        for file, parsed in self.infra.items():
            caller = os.path.dirname(file)
            for name, body in parsed.get("module", {}).items():
                source = body.get("source")
                if isinstance(source, str) and os.path.normpath(os.path.join(caller, source)) == directory:
                    calls.append((caller, name, body))
        return calls

    def document(self, path: str) -> Any:
        if path not in self.documents:
            location = self.repository / path
            self.documents[path] = yaml.safe_load(location.read_text()) if location.is_file() else MISSING
        return self.documents[path]


def load_tree(infra: Path = INFRA, repository: Path = ROOT) -> Tree:
    files = {
        str(path.relative_to(infra)): copy.deepcopy(_parsed(path, path.stat().st_mtime))
        for path in sorted(infra.rglob("*.tf"))
        if ".terraform" not in path.parts
    }
    return Tree(files, repository, {})


def _holder(node: Any, name: str, hcl: bool) -> Any:
    """The mapping that holds `name`: the node itself or, in HCL, the one block of a list of
    blocks (python-hcl2 parses blocks, `dynamic` ones too, as lists of mappings)."""
    if isinstance(node, dict):
        return node if name in node else MISSING
    if hcl and isinstance(node, list):
        holders = [item for item in node if isinstance(item, dict) and name in item]
        return holders[0] if len(holders) == 1 else MISSING
    return MISSING


def _pick(items: Any, selector: tuple[str, str]) -> Any:
    key, wanted = selector
    if not isinstance(items, list):
        return MISSING
    chosen = [item for item in items if isinstance(item, dict) and str(item.get(key)) == wanted]
    return chosen[0] if len(chosen) == 1 else MISSING


def _walk(node: Any, steps: tuple[Step, ...], hcl: bool) -> Any:
    for step in steps:
        holder = _holder(node, step.name, hcl)
        if holder is MISSING:
            return MISSING
        node = holder[step.name]
        if step.selector:
            node = _pick(node, step.selector)
    # an HCL block written once is still a list of one mapping: read it as the mapping
    if hcl and isinstance(node, list) and len(node) == 1 and isinstance(node[0], dict):
        return node[0]
    return node


def _steps(text: str | None) -> tuple[Step, ...]:
    return parse_path(text) if text else ()


def _block_steps(address: str) -> tuple[Step, ...]:
    return tuple(Step(part) for part in _block_key(address))


def module_value(module: str, address: str, attribute: str, tree: Tree | None = None) -> Any:
    """One attribute of a block in a Terraform module directory, as HCL wrote it (expressions as
    strings); MISSING when the module, block or attribute is not there."""
    tree = tree or load_tree()
    if not tree.files_of(module):
        return MISSING
    return _walk(tree.module(module), (*_block_steps(address), *_steps(attribute)), hcl=True)


def _values(tree: Tree, where: Where) -> list[tuple[str, Any]]:
    """(what, value) pairs the check applies to: one, except for `var.` addresses, whose default
    and every caller's argument must all pass."""
    if where.file is not None:
        return [("", _walk(tree.document(where.file), _steps(where.field), hcl=False))]
    module, address, attribute = str(where.module), str(where.address), _steps(where.attribute)
    if not tree.files_of(module):
        return [("", MISSING)]
    document = tree.module(module)
    if not address.startswith("var."):
        return [("", _walk(document, (*_block_steps(address), *attribute), hcl=True))]
    declaration = _walk(document, _block_steps(address), hcl=True)
    default = declaration.get("default", MISSING) if isinstance(declaration, dict) else MISSING
    values = [("default", _walk(default, attribute, hcl=True))]
    variable = _block_key(address)[1]
    for caller, name, body in tree.callers(module):
        if variable in body:
            values.append((f"{caller} module.{name}", _walk(body[variable], attribute, hcl=True)))
    return values


def _equal(actual: Any, expected: Any) -> bool:
    """Equality that tells true from 1, also inside lists and mappings."""
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(_equal(actual[key], value) for key, value in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_equal(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    return bool(actual == expected)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _contains(actual: Any, expected: Any) -> bool:
    items = expected if isinstance(expected, list) else [expected]
    if isinstance(actual, list):
        return all(any(_equal(have, item) for have in actual) for item in items)
    if isinstance(actual, dict):
        return all(item in actual for item in items)
    if isinstance(actual, str):
        return all(isinstance(item, str) and item in actual for item in items)
    return False


def _holds(check: Check, actual: Any) -> bool:
    expected = check.expected
    match check.operator:
        case "present":
            return actual is not MISSING
        case "absent":
            return actual is MISSING
        case _ if actual is MISSING:
            return False
        case "equals":
            return _equal(actual, expected)
        case "at_least":
            return _number(actual) and actual >= expected
        case "at_most":
            return _number(actual) and actual <= expected
        case "contains":
            return _contains(actual, expected)
        case _:  # matches
            return isinstance(actual, str) and re.search(expected, actual) is not None


def problem(tree: Tree, requirement: Requirement | Evidence) -> str | None:
    """None when the row's check holds (or it has none), else what is wrong, in one line."""
    if requirement.where is None or requirement.check is None:
        return None
    for what, actual in _values(tree, requirement.where):
        if not _holds(requirement.check, actual):
            shown_value = "missing" if actual is MISSING else json.dumps(actual, default=str)
            prefix = f"{what}: " if what else ""
            return f"{prefix}{requirement.where} is {shown_value}, expected {requirement.check}"
    return None


# --- proving a check can fail ---------------------------------------------------------------

VIOLATION = "<violation>"


def violate(tree: Tree, requirement: Requirement | Evidence) -> None:
    """Take the requirement away in `tree` (a copy): remove what the row's check reads, or put
    something where an `absent` check wants nothing. The policy tests use it to prove each check
    can fail."""
    where, check = requirement.where, requirement.check
    if where is None or check is None:
        raise ValueError(f"{getattr(requirement, 'id', requirement)} has no check to violate")
    put = check.operator == "absent"
    if where.file is not None:
        _violate_path(tree.document(where.file), _steps(where.field), put, hcl=False)
        return
    module, address, attribute = str(where.module), str(where.address), _steps(where.attribute)
    if address.startswith("var."):
        # the default is what every caller that passes nothing gets
        steps = (*_block_steps(address), Step("default"), *attribute)
        _violate_path(tree.module(module), steps, put, hcl=True)
    elif attribute:
        _violate_path(tree.module(module), (*_block_steps(address), *attribute), put, hcl=True)
    else:
        _violate_block(tree, module, _block_key(address), put)


def _violate_path(document: Any, steps: tuple[Step, ...], put: bool, hcl: bool) -> None:
    *parents, last = steps
    parent = _walk(document, tuple(parents), hcl)
    holder = _holder(parent, last.name, hcl)
    if put:
        if not isinstance(parent, dict):
            raise ValueError(f"no mapping to put {last.name} into")
        if last.selector:
            parent.setdefault(last.name, []).append({last.selector[0]: last.selector[1]})
        else:
            parent[last.name] = VIOLATION
    elif holder is not MISSING and last.selector:
        items = holder[last.name]
        items.remove(_pick(items, last.selector))
    elif holder is not MISSING:
        del holder[last.name]


def _violate_block(tree: Tree, directory: str, key: tuple[str, ...], put: bool) -> None:
    *labels, name = key
    files = tree.files_of(directory)
    if put:
        target = files[0]
        for label in labels:
            target = target.setdefault(label, {})
        target[name] = {}
        return
    for parsed in files:
        container = parsed
        for label in labels:
            container = container.get(label, {})
        container.pop(name, None)


# --- evaluation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    requirement: Requirement
    problem: str | None

    @property
    def result(self) -> str:
        if self.requirement.check is None:
            return "not checked"
        return "broken" if self.problem else "ok"

    def as_json(self) -> dict[str, Any]:
        item = self.requirement
        return {
            "id": item.id,
            "seed": item.seed,
            "section": item.section,
            "requirement": item.requirement,
            "status": str(item.status),
            "reason": item.reason,
            "where": str(item.where) if item.where else None,
            "check": str(item.check) if item.check else None,
            "result": self.result,
            "problem": self.problem,
        }


def evaluate(tree: Tree | None = None, path: Path | None = None) -> list[Outcome]:
    requirements = load_requirements(path)
    tree = tree or load_tree()
    return [Outcome(item, problem(tree, item)) for item in requirements]


def enforce(outcomes: list[Outcome]) -> None:
    """Every check must hold, whatever the row's status: a deviation's check keeps its reason true."""
    broken = [outcome for outcome in outcomes if outcome.problem]
    if broken:
        listed = "; ".join(f"{outcome.requirement.id} ({outcome.problem})" for outcome in broken)
        raise RequirementsBroken(f"{len(broken)} seed requirement(s) broken: {listed}")
