"""Terraform provider schemas, read offline from packages generated from them.

Terraform's providers cannot be downloaded here, so `terraform validate` cannot run. Each
provider's schema still reaches us inside packages built from `terraform providers schema
-json`: the CDKTF bindings on npm (`@cdktf/provider-*`), whose jsii assembly (`.jsii`, one
JSON file) describes every resource, data source and provider configuration, and, for
linode, the Pulumi SDK bridged from the provider, on PyPI. toolchain.toml pins one package
per provider (`[[provider_schema]]`); fetch_provider_schemas() downloads each once, checks
its sha256 and keeps a compact schema per provider in .tools/provider-schemas/.

A schema block is {"required": [...], "optional": [...], "computed": [...] (read-only),
"blocks": {name: block}, "objects": {name: block}, "object_lists": [...],
"attributes_as_blocks": [...]}, empty keys left out. Names in `blocks` are nested blocks
(`name { }`; `{"undescribed": true}` where the package leaves a block's contents untyped),
names in `objects` attributes holding an object (`name = { }`) or, when in `object_lists`,
a list of objects (`name = [{ }]`); those in `attributes_as_blocks` are plain list(object)
attributes, which Terraform also accepts in block syntax.

Standard library only: scripts/bootstrap.py calls fetch_provider_schemas() with the system
python3.
"""

from __future__ import annotations

import ast
import bisect
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voiceops.errors import OpsError
from voiceops.toolchain import MANIFEST, ROOT, sha256_of, shown

CACHE = ROOT / ".tools" / "provider-schemas"
# Bumped whenever the extraction changes, so caches made by an older one are rebuilt.
EXTRACTOR_VERSION = 1

Block = dict[str, Any]
# CDKTF bindings carry the whole schema; the Pulumi SDK renames list blocks (plurals) and
# hides block-versus-attribute, so only names and required arguments can be checked from it.
_DETAIL = {"npm": "full", "pypi": "names"}


class SchemasUnavailable(OpsError):
    """A pinned schema package could not be fetched, verified or read."""


@dataclass(frozen=True)
class SchemaPackage:
    """One row of toolchain.toml's [[provider_schema]]: the package a provider's schema is read from."""

    provider: str
    registry: str  # npm (CDKTF bindings: full schema) or pypi (bridged Pulumi SDK: names only)
    package: str
    version: str
    sha256: str
    generated_from: str
    pin_note: str = ""  # why the stacks pin another version than `generated_from`
    # "<type>.<argument path>" (`provider.<argument>` for the provider block) -> why the pinned
    # version accepts what the older schema lacks
    accepted: dict[str, str] = field(default_factory=dict)

    @property
    def cache_file(self) -> Path:
        return CACHE / f"{self.provider}.json"

    @property
    def spec(self) -> str:
        return (
            f"{self.package}@{self.version}" if self.registry == "npm" else f"{self.package}=={self.version}"
        )


def pinned_packages(manifest: Path = MANIFEST) -> list[SchemaPackage]:
    rows = tomllib.loads(manifest.read_text()).get("provider_schema", [])
    return [SchemaPackage(**row) for row in rows]


@dataclass(frozen=True)
class FetchResult:
    package: SchemaPackage
    fetched: bool  # False when the cache already held a verified schema
    seconds: float
    cache_bytes: int


def fetch_provider_schemas(pip_python: Path | None = None) -> list[FetchResult]:
    """Fetch and extract every pinned schema package not yet in the cache; idempotent.

    `pip_python` is the interpreter whose pip downloads wheels (default: the one running).
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    results = []
    for package in pinned_packages():
        started = time.monotonic()
        fetched = not cached_schema_current(package)
        if fetched:
            schema = _download_and_extract(package, pip_python or Path(sys.executable))
            staged = package.cache_file.with_suffix(".json.new")
            staged.write_text(json.dumps(schema, separators=(",", ":"), sort_keys=True))
            staged.replace(package.cache_file)
        results.append(
            FetchResult(package, fetched, time.monotonic() - started, package.cache_file.stat().st_size)
        )
    return results


def _metadata(package: SchemaPackage) -> dict[str, Any]:
    return {
        "package": package.package,
        "version": package.version,
        "sha256": package.sha256,
        "generated_from": package.generated_from,
        "extractor": EXTRACTOR_VERSION,
    }


def cached_schema_current(package: SchemaPackage) -> bool:
    """The cache holds a schema extracted, by this extractor, from exactly the pinned package."""
    try:
        cached = json.loads(package.cache_file.read_text())
    except (OSError, ValueError):
        return False
    return cached.get("metadata") == _metadata(package)


def load_schema(package: SchemaPackage) -> dict[str, Any]:
    if not cached_schema_current(package):
        raise SchemasUnavailable(
            f"no verified schema of {package.spec} in {shown(CACHE)}: "
            "run python3 scripts/bootstrap.py (it fetches the provider schemas)"
        )
    return json.loads(package.cache_file.read_text())


def _download_and_extract(package: SchemaPackage, pip_python: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        if package.registry == "npm":
            command = ["npm", "pack", "--silent", package.spec]
        else:
            command = [str(pip_python.absolute()), "-m", "pip", "download", "--quiet", "--no-deps"]
            command += ["--only-binary=:all:", "--dest", scratch, package.spec]
        try:
            result = subprocess.run(command, cwd=scratch, capture_output=True, text=True, check=False)
        except FileNotFoundError as error:
            raise SchemasUnavailable(f"{command[0]} is needed to fetch {package.spec}") from error
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
            raise SchemasUnavailable(f"fetching {package.spec} failed: {' '.join(tail)}")
        downloads = [path for path in Path(scratch).iterdir() if path.suffix in (".tgz", ".whl")]
        if len(downloads) != 1:
            raise SchemasUnavailable(f"fetching {package.spec} gave {len(downloads)} files, expected one")
        found = sha256_of(downloads[0])
        if found != package.sha256:
            raise SchemasUnavailable(
                f"{downloads[0].name}: sha256 {found} differs from toolchain.toml's {package.sha256}"
            )
        if package.registry == "npm":
            schema = extract_cdktf(downloads[0], package.generated_from)
        else:
            schema = extract_pulumi(downloads[0])
    return {"metadata": _metadata(package), "detail": _DETAIL[package.registry], **schema}


# --- CDKTF (npm) ----------------------------------------------------------------------------
#
# The jsii assembly has, per resource, a Config interface (settable arguments, `optional`
# marking the optional ones, a Terraform Registry link whose anchor is the exact Terraform
# name, and the summary "<name> block." on nested blocks) and a class whose extra getters are
# the read-only attributes. The compiled JavaScript adds what the assembly lacks: the
# Terraform names of those getters.

_KINDS = {
    "cdktf.TerraformResource": "resources",
    "cdktf.TerraformDataSource": "data_sources",
    "cdktf.TerraformProvider": "provider",
}
# Getters every CDKTF struct reader has that are no Terraform attribute.
_CDKTF_INTERNAL = {"internalValue"}
_LINK = re.compile(r"\{@link (\S+) (\S+?)\}")
_JS_CLASS = re.compile(rb"^class (\w+) extends", re.M)
_JS_GETTER = re.compile(
    rb"get (\w+)\(\) \{\s*return [^;]*?this\.(?:get\w*Attribute|interpolationForAttribute)\('([^']+)'\)"
)
_JS_COMPLEX = re.compile(rb"this\._(\w+) = new [\w.]+\(this, \"([^\"]+)\"")


def _scan_javascript(source: bytes, names: dict[str, dict[str, str]]) -> None:
    """Record, per class, each getter's Terraform name (`get tagsAll() {... 'tags_all' ...}`)."""
    classes = [(match.start(), match[1].decode()) for match in _JS_CLASS.finditer(source)]
    positions = [start for start, _ in classes]
    for pattern in (_JS_GETTER, _JS_COMPLEX):
        for match in pattern.finditer(source):
            index = bisect.bisect(positions, match.start()) - 1
            if index >= 0:
                names.setdefault(classes[index][1], {})[match[1].decode()] = match[2].decode()


def extract_cdktf(tarball: Path, generated_from: str) -> dict[str, Any]:
    """The schema in a CDKTF bindings tarball, which must say it was generated from `generated_from`."""
    assembly: dict[str, Any] = {}
    provider_version = ""
    getter_names: dict[str, dict[str, str]] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            reader = archive.extractfile(member) if member.isfile() else None
            if reader is None:
                continue
            if member.name == "package/.jsii":
                assembly = json.load(reader)
            elif member.name == "package/package.json":
                provider_version = json.load(reader).get("cdktf", {}).get("provider", {}).get("version", "")
            elif member.name.startswith("package/lib/") and member.name.endswith(".js"):
                _scan_javascript(reader.read(), getter_names)
    if not assembly:
        raise SchemasUnavailable(f"{tarball.name} has no jsii assembly (package/.jsii)")
    if provider_version != generated_from:
        raise SchemasUnavailable(
            f"{tarball.name} was generated from provider {provider_version or 'unknown'}, "
            f"toolchain.toml says {generated_from}"
        )
    types = assembly["types"]
    schema: dict[str, Any] = {"provider": {}, "resources": {}, "data_sources": {}}
    for fqn, spec in types.items():
        kind = _KINDS.get(spec.get("base", ""))
        if spec["kind"] != "class" or kind is None:
            continue
        config = spec["initializer"]["parameters"][-1]["type"]["fqn"]
        block = _cdktf_block(types, getter_names, config, reader=fqn)
        if kind == "provider":
            schema["provider"] = block
        else:
            # "Represents a {@link https://registry.terraform.io/... aws_s3_bucket}."
            schema[kind][_LINK.search(spec["docs"]["summary"])[2]] = block
    return schema


def _struct_in(
    type_ref: dict[str, Any], types: dict[str, Any], in_list: bool = False
) -> tuple[str, bool] | None:
    """The struct (jsii datatype interface) a property's type holds, through unions and lists,
    and whether a list or set holds it."""
    fqn = type_ref.get("fqn")
    if fqn in types and types[fqn].get("datatype"):
        return fqn, in_list
    for candidate in type_ref.get("union", {}).get("types", []):
        if found := _struct_in(candidate, types, in_list):
            return found
    # A map of objects is keyed by the user's own names: no schema applies to its keys.
    collection = type_ref.get("collection", {})
    if collection.get("kind") == "array":
        return _struct_in(collection["elementtype"], types, in_list=True)
    return None


def _described(prop: dict[str, Any]) -> bool:
    return not prop.get("docs", {}).get("summary", "").startswith("Docs at Terraform Registry")


def _cdktf_block(
    types: dict[str, Any], getter_names: dict[str, dict[str, str]], interface: str, reader: str
) -> Block:
    """Schema of one Config interface or struct; `reader` is the class whose getters list every
    attribute, the read-only ones among them."""
    block: Block = {
        "required": [],
        "optional": [],
        "computed": [],
        "blocks": {},
        "objects": {},
        "object_lists": [],
        "attributes_as_blocks": [],
    }
    settable = set()
    for prop in types[interface].get("properties", []):
        docs = prop.get("docs", {})
        name = _terraform_name(docs)
        settable.add(prop["name"])
        block["optional" if prop.get("optional") else "required"].append(name)
        found = _struct_in(prop["type"], types)
        inner = (
            _cdktf_block(types, getter_names, found[0], reader=f"{found[0]}OutputReference")
            if found
            else None
        )
        if docs.get("summary", "").rstrip(".") == f"{name} block":
            # CDKTF leaves a few deeply recursive blocks (wafv2 `statement`) untyped.
            block["blocks"][name] = inner if inner is not None else {"undescribed": True}
        elif inner is not None:
            block["objects"][name] = inner
            if found[1]:
                block["object_lists"].append(name)
            # A plain list(object) attribute, which Terraform also takes in block syntax
            # (attributes as blocks), rather than a nested attribute: CDKTF gives its fields
            # no description of their own and the attribute's own optionality.
            fields = types[found[0]].get("properties", [])
            if found[1] and all(
                not _described(member) and bool(member.get("optional")) == bool(prop.get("optional"))
                for member in fields
            ):
                block["attributes_as_blocks"].append(name)
    names = getter_names.get(reader.rsplit(".", 1)[1], {})
    for prop in types.get(reader, {}).get("properties", []):
        camel = prop["name"]
        if (
            prop.get("static")
            or camel in settable
            or camel.removesuffix("Input") in settable
            or camel in _CDKTF_INTERNAL
        ):
            continue
        block["computed"].append(names.get(camel) or _snake(camel))
    return _compact(block)


def _terraform_name(docs: dict[str, Any]) -> str:
    """The anchor of the property's Terraform Registry link; a description with an `@` in it
    can push the link into a custom doc tag, so every doc string is searched."""
    text = json.dumps(docs)
    match = _LINK.search(text)
    if match is None or "#" not in match[1]:
        raise SchemasUnavailable(f"no Terraform Registry link in {text[:200]}")
    return match[1].rsplit("#", 1)[1]


def _snake(camel: str) -> str:
    return re.sub(r"([A-Z])", lambda match: "_" + match[1].lower(), camel)


def _compact(block: Block) -> Block:
    return {key: sorted(value) if isinstance(value, list) else value for key, value in block.items() if value}


# --- Pulumi (PyPI) ----------------------------------------------------------------------------
#
# A bridged SDK module holds `class <Name>Args` (constructor keywords: the arguments, those
# without a default required) and the resource class, whose super().__init__ names the type
# token ("linode:index/lkeCluster:LkeCluster" is linode_lke_cluster). A data source is a
# function `get_<name>` invoking "linode:index/getLkeCluster:getLkeCluster"; Python gives every
# data source argument a default, so none is known to be required. Nested argument types are
# `<Name>Args` classes in _inputs.py.


def extract_pulumi(wheel: Path) -> dict[str, Any]:
    modules: dict[str, ast.Module] = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            parts = name.split("/")
            # outputs.py describes results only, and is as large as all the rest.
            if len(parts) == 2 and parts[1].endswith(".py") and parts[1] != "outputs.py":
                modules[parts[1]] = ast.parse(archive.read(name))
    arg_classes = {
        node.name: node
        for tree in modules.values()
        for node in tree.body
        if isinstance(node, ast.ClassDef) and node.name.endswith("Args")
    }
    schema: dict[str, Any] = {"provider": {}, "resources": {}, "data_sources": {}}
    for tree in modules.values():
        for node in tree.body:
            token = _invoked_token(node)
            if token is None:
                continue
            prefix, module, _ = token.split(":")
            name = module.rsplit("/", 1)[-1]
            if isinstance(node, ast.FunctionDef):
                terraform_name = f"{prefix}_{_snake(name.removeprefix('get')).lstrip('_')}"
                schema["data_sources"][terraform_name] = _pulumi_block(node.args, arg_classes, set())
            elif f"{node.name}Args" in arg_classes:
                terraform_name = f"{prefix}_{_snake(name).lstrip('_')}"
                init = _init_of(arg_classes[f"{node.name}Args"])
                schema["resources"][terraform_name] = _pulumi_block(init.args, arg_classes, set())
    if "ProviderArgs" in arg_classes:
        schema["provider"] = _pulumi_block(_init_of(arg_classes["ProviderArgs"]).args, arg_classes, set())
    return schema


def _invoked_token(node: ast.stmt) -> str | None:
    """The type token a resource class's constructor or a data source function passes on."""
    if (
        isinstance(node, ast.FunctionDef)
        and node.name.startswith("get_")
        and not node.name.endswith("_output")
    ):
        for call in ast.walk(node):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "invoke"
                and call.args
                and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str)
            ):
                return call.args[0].value
    if isinstance(node, ast.ClassDef):
        for call in ast.walk(node):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "__init__"
                and call.args
                and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str)
                and ":" in call.args[0].value
            ):
                return call.args[0].value
    return None


def _init_of(node: ast.ClassDef) -> ast.FunctionDef:
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            return item
    raise SchemasUnavailable(f"{node.name} has no constructor")


def _pulumi_block(arguments: ast.arguments, arg_classes: dict[str, ast.ClassDef], seen: set[str]) -> Block:
    block: Block = {"required": [], "optional": [], "objects": {}}
    keywords = arguments.kwonlyargs or arguments.args
    defaults = arguments.kw_defaults if arguments.kwonlyargs else arguments.defaults
    first_default = len(keywords) - len(defaults)
    for index, argument in enumerate(keywords):
        if argument.arg in ("self", "__self__", "opts"):
            continue
        optional = defaults[index] is not None if arguments.kwonlyargs else index >= first_default
        block["optional" if optional else "required"].append(argument.arg)
        nested = _args_class_in(argument.annotation, arg_classes)
        if nested and nested not in seen:
            inner = _pulumi_block(_init_of(arg_classes[nested]).args, arg_classes, seen | {nested})
            block["objects"][argument.arg] = inner
    return _compact(block)


def _args_class_in(annotation: ast.expr | None, arg_classes: dict[str, ast.ClassDef]) -> str | None:
    if annotation is None:
        return None
    for name in re.findall(r"'(\w+Args)'", ast.unparse(annotation)):
        if name in arg_classes:
            return name
    return None
