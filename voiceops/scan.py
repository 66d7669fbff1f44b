"""checkov and trivy over rendered manifests: fail on findings, and fail if nothing was scanned."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from voiceops import toolchain
from voiceops.errors import OpsError
from voiceops.toolchain import ROOT

TRIVY_IGNORE = ROOT / ".trivyignore.yaml"


class ScanFailed(OpsError):
    pass


@dataclass(frozen=True)
class Finding:
    """One failed check: where (a file, and the object or line in it) and what."""

    check: str
    file: str  # as the scanner names it, relative to the scanned directory
    title: str
    resource: str = ""  # Kind.namespace.name (checkov; trivy when it gives no line)
    line: int = 0  # trivy: first line of the cause

    def __str__(self) -> str:
        where = self.resource or f"line {self.line}"
        return f"{self.check} {where} ({self.file}): {self.title}"


@dataclass(frozen=True)
class ScanResult:
    scanner: str
    resources: int
    passed: int
    items: list[Finding]
    suppressed: int = 0  # findings an upstream-findings row accepts

    @property
    def findings(self) -> list[str]:
        return [str(item) for item in self.items]


def _tool(name: str) -> str:
    return toolchain.require(name, ScanFailed)


def _run_json(command: list[str], env: dict[str, str]) -> object:
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as error:
        tail = " ".join(result.stderr.strip().splitlines()[-2:])
        raise ScanFailed(
            f"{Path(command[0]).name} produced no report (exit {result.returncode}): {tail}"
        ) from error


def checkov(target: Path, framework: str) -> ScanResult:
    """checkov offline (no vendor API) on a directory or one file (a plan's JSON);
    inline skips with reasons are the only suppressions."""
    env = {**toolchain.tool_env(), "BC_SKIP_MAPPING": "TRUE"}
    selector = ["-f", str(target)] if target.is_file() else ["-d", str(target)]
    command = [_tool("checkov"), *selector, "--framework", framework, "--skip-download"]
    report = _run_json([*command, "--quiet", "--compact", "--output", "json"], env)
    reports = report if isinstance(report, list) else [report]
    findings, resources, passed = [], 0, 0
    for item in reports:
        if not isinstance(item, dict) or "summary" not in item:
            continue
        resources += item["summary"].get("resource_count", 0)
        passed += item["summary"].get("passed", 0)
        for check in item["results"]["failed_checks"]:
            findings.append(
                Finding(
                    check["check_id"], check["file_path"].lstrip("/"), check["check_name"], check["resource"]
                )
            )
    return _verdict("checkov", resources, passed, findings)


def trivy(directory: Path) -> ScanResult:
    """trivy's embedded misconfiguration checks, HIGH and CRITICAL.

    --skip-check-update: the check bundle cannot be downloaded here; the checks embedded
    in the pinned trivy release are used instead (same findings, fixed version).
    """
    command = [
        _tool("trivy"), "config", "--skip-check-update", "--quiet",
        "--severity", "HIGH,CRITICAL", "--ignorefile", str(TRIVY_IGNORE),
        "--format", "json", str(directory),
    ]  # fmt: skip
    report = _run_json(command, {**os.environ, **toolchain.tool_env()})
    results = (report.get("Results") if isinstance(report, dict) else None) or []
    findings = [
        Finding(
            item["ID"],
            result["Target"],
            item["Title"],
            resource=_trivy_subject(item),
            line=(item.get("CauseMetadata") or {}).get("StartLine", 0),
        )
        for result in results
        for item in result.get("Misconfigurations") or []
        if item.get("Status") == "FAIL"
    ]
    passed = sum(result.get("MisconfSummary", {}).get("Successes", 0) for result in results)
    return _verdict("trivy", len(results), passed, findings)


# Checks on a whole object (no line) name it in their message: "ConfigMap 'x' in 'ns' namespace ..."
TRIVY_SUBJECT = re.compile(r"^(?P<kind>[A-Z][A-Za-z]+) '(?P<name>[^']+)' in '(?P<namespace>[^']*)' namespace")


def _trivy_subject(item: dict) -> str:
    """Kind.namespace.name (checkov's form) for a finding trivy gives no line for; else empty."""
    if (item.get("CauseMetadata") or {}).get("StartLine"):
        return ""
    match = TRIVY_SUBJECT.match(item.get("Message", ""))
    return f"{match['kind']}.{match['namespace']}.{match['name']}" if match else ""


def _verdict(scanner: str, resources: int, passed: int, findings: list[Finding]) -> ScanResult:
    if resources == 0:
        raise ScanFailed(
            f"{scanner} scanned zero resources: nothing was rendered or the scanner saw no files"
        )
    return ScanResult(scanner, resources, passed, findings)


# Files a plaintext value may not hide in: every file git tracks (or would, in an unborn tree).
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def tracked_files(root: Path) -> list[Path]:
    result = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise ScanFailed(f"git ls-files failed in {root}: {result.stderr.strip()}")
    return [root / name for name in result.stdout.split("\0") if name and (root / name).is_file()]


def _secret_manifest_values(text: str) -> list[str]:
    """Keys of Kubernetes Secrets with values in data or stringData (a Helm template is not
    one: its values are expressions)."""
    found = []
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return found
    for document in documents:
        if not isinstance(document, dict) or document.get("kind") != "Secret":
            continue
        for field in ("data", "stringData"):
            for key, value in (document.get(field) or {}).items():
                if value not in (None, ""):
                    found.append(f"Secret {(document.get('metadata') or {}).get('name')} {field}.{key}")
    return found


def plaintext_secrets(root: Path) -> list[str]:
    """Every plaintext secret value committed anywhere in the tree, one line each: Kubernetes
    Secret manifests with values, private keys, and what trivy's secret rules recognise (cloud
    keys, tokens of known providers). Sealed ciphertext and our bundles carry none."""
    findings = []
    for path in tracked_files(root):
        if path.suffix not in {".yaml", ".yml", ".json", ".pem", ".key", ".tf", ".py", ".md", ".txt", ""}:
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        relative = path.relative_to(root)
        if PRIVATE_KEY.search(text):
            findings.append(f"{relative}: a private key")
        if path.suffix in {".yaml", ".yml"} and "{{" not in text:
            findings += [f"{relative}: {item}" for item in _secret_manifest_values(text)]
    command = [
        _tool("trivy"), "fs", "--scanners", "secret", "--quiet", "--format", "json",
        *(argument for name in SECRET_SCAN_SKIPPED for argument in ("--skip-dirs", name)), str(root),
    ]  # fmt: skip
    report = _run_json(command, {**os.environ, **toolchain.tool_env()})
    for result in report.get("Results") or []:
        for secret in result.get("Secrets") or []:
            where = f"{result['Target']}:{secret.get('StartLine')}"
            findings.append(f"{where}: {secret['RuleID']} ({secret['Title']})")
    return sorted(findings)


# Directories git does not track here: tools, caches and build output
SECRET_SCAN_SKIPPED = (".venv", ".tools", ".cache", ".nox", ".state", "build", ".git", "charts/*/charts")
