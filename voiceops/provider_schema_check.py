"""infra/terraform checked against the pinned provider schemas (voiceops/provider_schemas.py).

What `terraform validate` would say about arguments if providers could be installed here:
for every resource, data source and provider block, in stacks and modules alike, an unknown
type, an unknown argument or block, a missing required one, a read-only attribute set, and
a block written as an attribute or the other way round (helm 3.x made `set` and `kubernetes`
attributes: `set = [{...}]`, `kubernetes = {...}`). `dynamic "x"` counts as block `x`; object
values written out literally are checked key by key, computed ones cannot be. A stack pin
that differs from the version a schema was generated from needs a `pin_note` in toolchain.toml.

A block's provider is its `provider` meta-argument's name or its type's prefix, looked up in
the directory's `required_providers`. python-hcl2's rule tree is read rather than its dict
output: it keeps line numbers and tells `x { }` from `x = { }`.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.rules.base import AttributeRule, BlockRule, BodyRule

from voiceops import provider_schemas
from voiceops.errors import OpsError
from voiceops.provider_schemas import Block, SchemaPackage
from voiceops.toolchain import ROOT, shown

INFRA = ROOT / "infra" / "terraform"

# Terraform's own arguments and blocks, valid at the top of every resource or data source.
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider"}
META_BLOCKS = {"lifecycle", "provisioner", "connection"}
PROVIDER_META_ARGUMENTS = {"alias", "version"}
# Terraform's built-in provider (terraform_data): Terraform itself checks its arguments.
BUILTIN_PROVIDER = "terraform"
EXACT_VERSION = re.compile(r"\d+\.\d+\.\d+")


class SchemaViolations(OpsError):
    pass


@dataclass(frozen=True)
class Finding:
    file: Path
    line: int | None
    address: str
    message: str

    def __str__(self) -> str:
        where = f"{shown(self.file)}:{self.line}" if self.line else shown(self.file)
        return f"{where}: {self.address}: {self.message}"


@dataclass(frozen=True)
class ProviderSchema:
    package: SchemaPackage
    full: bool  # False: names and required arguments only (a Pulumi SDK's schema)
    provider: Block
    resources: dict[str, Block]
    data_sources: dict[str, Block]

    @property
    def name(self) -> str:
        return self.package.provider

    @property
    def version(self) -> str:
        return self.package.generated_from

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


def load_schemas() -> dict[str, ProviderSchema]:
    """Every pinned provider's schema from the cache; SchemasUnavailable names the fix when absent."""
    schemas = {}
    for package in provider_schemas.pinned_packages():
        data = provider_schemas.load_schema(package)
        schemas[package.provider] = ProviderSchema(
            package=package,
            full=data["detail"] == "full",
            provider=data["provider"],
            resources=data["resources"],
            data_sources=data["data_sources"],
        )
    return schemas


@dataclass
class SchemaCheck:
    findings: list[Finding] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)  # blocks checked, per provider and version
    undescribed: int = 0  # nested blocks whose contents no package describes (wafv2 `statement`)


def check_stacks(root: Path = INFRA, schemas: dict[str, ProviderSchema] | None = None) -> SchemaCheck:
    """Check every .tf file under `root`; findings in file and line order."""
    schemas = load_schemas() if schemas is None else schemas
    result = SchemaCheck()
    bodies: dict[Path, BodyRule] = {}
    for directory in sorted({path.parent for path in root.rglob("*.tf") if ".terraform" not in path.parts}):
        # Stacks share files through symlinks: each file is parsed and checked once, under its real path.
        files = sorted({path.resolve() for path in directory.glob("*.tf")})
        fresh = [path for path in files if path not in bodies]
        for path in fresh:
            bodies[path] = hcl2.parses(path.read_text()).body
        # A module's local provider names -> provider type (`aws` for hashicorp/aws)
        local_names = {
            _name(attribute): provider
            for path in files
            for attribute, provider, _ in _required_providers(bodies[path])
        }
        for path in fresh:
            _check_pins(path, bodies[path], schemas, result)
            _FileChecker(path, schemas, local_names, result).check(bodies[path])
    result.findings.sort(key=lambda finding: (str(finding.file), finding.line or 0))
    return result


def _required_providers(body: BodyRule) -> Iterator[tuple[AttributeRule, str, str]]:
    """Each required_providers entry of a file: (its attribute, provider type, version constraint)."""
    for terraform in _blocks(body, "terraform"):
        for required in _blocks(terraform.body, "required_providers"):
            for attribute in _attributes(required.body):
                spec = attribute.expression.serialize()
                spec = spec if isinstance(spec, dict) else {}
                provider = _unquote(spec.get("source", "")).rsplit("/", 1)[-1] or _name(attribute)
                yield attribute, provider, _unquote(spec.get("version", ""))


def _check_pins(path: Path, body: BodyRule, schemas: dict[str, ProviderSchema], result: SchemaCheck) -> None:
    """An exact pin other than the schema's version needs toolchain.toml's pin_note to say why."""
    for attribute, provider, version in _required_providers(body):
        schema = schemas.get(provider)
        if (
            schema is not None
            and EXACT_VERSION.fullmatch(version)
            and version != schema.version
            and not schema.package.pin_note
        ):
            result.findings.append(
                Finding(
                    path,
                    _line(attribute),
                    f"required_providers.{_name(attribute)}",
                    f"pinned to {version} but checked against the {schema.version} schema: "
                    "pin that version, or say in toolchain.toml's pin_note why not",
                )
            )


# --- HCL rule tree helpers --------------------------------------------------------------------


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _labels(block: BlockRule) -> list[str]:
    return [_unquote(str(label.serialize())) for label in block.labels]


def _name(attribute: AttributeRule) -> str:
    return str(attribute.identifier.serialize())


def _blocks(body: BodyRule, kind: str) -> list[BlockRule]:
    return [child for child in body.children if isinstance(child, BlockRule) and _labels(child)[0] == kind]


def _attributes(body: BodyRule) -> list[AttributeRule]:
    return [child for child in body.children if isinstance(child, AttributeRule)]


def _line(rule: AttributeRule | BlockRule) -> int | None:
    # python-hcl2 keeps Lark's position metadata on each rule but has no public accessor for it.
    return getattr(getattr(rule, "_meta", None), "line", None)


# --- the check ---------------------------------------------------------------------------------


@dataclass
class _Given:
    """How a body sets one name: as an attribute (with its value) or as blocks (with their lines)."""

    line: int | None
    value: Any = None
    is_attribute: bool = False
    blocks: list[tuple[int | None, BodyRule]] = field(default_factory=list)


@dataclass(frozen=True)
class _Place:
    """Where in a resource a body sits: for messages and for toolchain.toml's `accepted`."""

    type_name: str
    address: str
    nesting: tuple[str, ...] = ()

    def inside(self, name: str) -> _Place:
        return _Place(self.type_name, self.address, (*self.nesting, name))

    def accepted(self, name: str, schema: ProviderSchema) -> bool:
        """Listed in toolchain.toml as accepted by the pinned version beyond the checked schema."""
        return ".".join((self.type_name, *self.nesting, name)) in schema.package.accepted

    def __str__(self) -> str:
        return ".".join((self.address, *self.nesting))


@dataclass
class _FileChecker:
    path: Path
    schemas: dict[str, ProviderSchema]
    local_names: dict[str, str]
    result: SchemaCheck

    def report(self, line: int | None, place: _Place | str, message: str) -> None:
        self.result.findings.append(Finding(self.path, line, str(place), message))

    def check(self, body: BodyRule) -> None:
        for block in body.children:
            if not isinstance(block, BlockRule):
                continue
            labels = _labels(block)
            if labels[0] in ("resource", "data") and len(labels) == 3:
                self.check_resource(block, labels[0], labels[1], labels[2])
            elif labels[0] == "provider" and len(labels) == 2:
                self.check_provider(block, labels[1])

    def schema_for(self, block: BlockRule, local_name: str, address: str) -> ProviderSchema | None:
        provider = self.local_names.get(local_name, local_name)
        schema = self.schemas.get(provider)
        if schema is None:
            self.report(_line(block), address, f"no pinned schema for provider {provider} (toolchain.toml)")
        return schema

    def check_provider(self, block: BlockRule, local_name: str) -> None:
        place = _Place("provider", f"provider.{local_name}")
        schema = self.schema_for(block, local_name, place.address)
        if schema is not None:
            self.result.checked[schema.label] += 1
            given = _gather(block.body, PROVIDER_META_ARGUMENTS, set())
            self.check_given(given, _line(block), schema.provider, schema, place)

    def check_resource(self, block: BlockRule, kind: str, type_name: str, name: str) -> None:
        place = _Place(type_name, f"{'data.' if kind == 'data' else ''}{type_name}.{name}")
        local_name = type_name.split("_", 1)[0]
        for attribute in _attributes(block.body):
            if _name(attribute) == "provider":
                # `provider = aws.us_east_1`: the local name before the alias
                local_name = str(attribute.expression.serialize()).strip("${}").split(".", 1)[0]
        if local_name == BUILTIN_PROVIDER:
            return
        schema = self.schema_for(block, local_name, place.address)
        if schema is None:
            return
        types = schema.data_sources if kind == "data" else schema.resources
        if type_name not in types:
            what = "data source" if kind == "data" else "resource type"
            self.report(
                _line(block),
                place,
                f"unknown {what} {type_name} in {schema.label}{_did_you_mean(type_name, types)}",
            )
            return
        self.result.checked[schema.label] += 1
        given = _gather(block.body, META_ARGUMENTS, META_BLOCKS)
        self.check_given(given, _line(block), types[type_name], schema, place)

    def check_given(
        self, given: dict[str, _Given], line: int | None, block: Block, schema: ProviderSchema, place: _Place
    ) -> None:
        """Check what one block or object sets against its schema; `line` is where it starts."""
        settable = {*block.get("required", []), *block.get("optional", [])}
        known = settable | set(block.get("computed", []))
        # Pulumi's names differ from Terraform's by plurals only: compare both singular.
        spelled = {name: name for name in known} if schema.full else {_singular(name): name for name in known}
        for name, entry in given.items():
            if place.accepted(name, schema):
                continue
            schema_name = spelled.get(name if schema.full else _singular(name))
            if schema_name is None:
                self.report(
                    entry.line,
                    place.inside(name),
                    f"unknown argument {name} in {schema.label}{_did_you_mean(name, settable)}",
                )
            elif schema_name not in settable:
                self.report(entry.line, place.inside(name), f"{name} is read-only: the provider computes it")
            else:
                self.check_nested(name, schema_name, entry, block, schema, place)
        present = {name if schema.full else _singular(name) for name in given}
        for name in block.get("required", []):
            if (name if schema.full else _singular(name)) not in present:
                self.report(line, place, f"missing required argument {name}")

    def check_nested(
        self, name: str, schema_name: str, entry: _Given, block: Block, schema: ProviderSchema, place: _Place
    ) -> None:
        """Nested blocks and literal object values against their own schema; on a full schema,
        whether the name is written as the block or the attribute it is."""
        nested_blocks, objects = block.get("blocks", {}), block.get("objects", {})
        block_syntax = {*nested_blocks, *block.get("attributes_as_blocks", [])}
        if schema.full and entry.blocks and schema_name not in block_syntax:
            if schema_name not in objects:
                shape = "..."
            elif schema_name in block.get("object_lists", []):
                shape = "[{ ... }]"
            else:
                shape = "{ ... }"
            self.report(
                entry.line, place.inside(name), f"{name} is an attribute, not a block: write {name} = {shape}"
            )
            return
        if schema.full and entry.is_attribute and schema_name in nested_blocks:
            self.report(
                entry.line, place.inside(name), f"{name} is a block, not an attribute: write {name} {{ ... }}"
            )
            return
        nested = nested_blocks.get(schema_name) or objects.get(schema_name)
        if nested is None:
            return
        if nested.get("undescribed"):
            self.result.undescribed += len(entry.blocks)
            return
        for line, body in entry.blocks:
            self.check_given(_gather(body, set(), set()), line, nested, schema, place.inside(name))
        # Only objects written out literally can be checked; computed values are Terraform's to check.
        values = entry.value if isinstance(entry.value, list) else [entry.value]
        for value in values:
            if isinstance(value, dict):
                keys = {
                    key: _Given(entry.line, item, True) for key, item in value.items() if key.isidentifier()
                }
                self.check_given(keys, entry.line, nested, schema, place.inside(name))


def _gather(body: BodyRule, meta_arguments: set[str], meta_blocks: set[str]) -> dict[str, _Given]:
    """What a body sets, by name; `dynamic "x"` counts as block x with its `content`."""
    given: dict[str, _Given] = {}
    for child in body.children:
        if isinstance(child, AttributeRule):
            name = _name(child)
            if name not in meta_arguments:
                entry = given.setdefault(name, _Given(_line(child)))
                entry.is_attribute, entry.value = True, child.expression.serialize()
        elif isinstance(child, BlockRule):
            labels = _labels(child)
            if labels[0] in meta_blocks:
                continue
            if labels[0] == "dynamic" and len(labels) == 2:
                entry = given.setdefault(labels[1], _Given(_line(child)))
                entry.blocks += [(_line(child), content.body) for content in _blocks(child.body, "content")]
            else:
                given.setdefault(labels[0], _Given(_line(child))).blocks.append((_line(child), child.body))
    return given


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _singular(name: str) -> str:
    """Pulumi pluralises list arguments (`pool` -> `pools`, `allow_list` -> `allow_lists`)."""
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("ses", "xes", "ches", "shes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name
