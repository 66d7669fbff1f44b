"""Scanner findings in upstream charts that are accepted for a while: charts/upstream-findings.yaml.

Our own charts carry reasoned inline skips next to the code; charts we do not own
cannot, so their accepted findings live in one file instead, each row keyed by
check ID, release and the objects (Kind/name) it covers, with a reason and an
expiry date. Nothing else is suppressed: a finding in one of our charts, a
finding no row names, or a row past its expiry date fails the scan.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import Field

from voiceops import catalog, render
from voiceops.environments import Strict, load_validated
from voiceops.errors import OpsError
from voiceops.scan import Finding, ScanResult
from voiceops.toolchain import ROOT, shown

FINDINGS_PATH = ROOT / "charts" / "upstream-findings.yaml"
RENDERED_FILE = re.compile(r"^\d{3}-(?P<release>[a-z][a-z0-9-]+)\.yaml$")


class InvalidFindings(OpsError):
    pass


class AcceptedFinding(Strict):
    check: Annotated[str, Field(pattern=r"^(CKV2?_K8S_\d+|KSV-?\d+|AVD-KSV-\d+)$")]
    release: str
    objects: tuple[Annotated[str, Field(pattern=r"^[A-Za-z]+/[a-z0-9.-]+$")], ...] = Field(min_length=1)
    reason: Annotated[str, Field(min_length=20)]
    expires: date


class AcceptedFindings(Strict):
    findings: tuple[AcceptedFinding, ...] = ()


@cache
def load(path: Path = FINDINGS_PATH) -> AcceptedFindings:
    accepted = load_validated(path, AcceptedFindings, InvalidFindings)
    upstream = {name for name, spec in catalog.load().releases.items() if not spec.chart.local}
    for index, row in enumerate(accepted.findings):
        if row.release not in upstream:
            raise InvalidFindings(
                f"{shown(path)}: findings.{index}: {row.release} is not an upstream release; "
                "our charts take inline skips next to the code"
            )
    return accepted


def expired(accepted: AcceptedFindings, today: date) -> list[str]:
    return [
        f"{row.check} {row.release} expired on {row.expires}: fix it or renew the row with a new reason"
        for row in accepted.findings
        if row.expires < today
    ]


def located(finding: Finding, scanned: Path) -> tuple[str, str] | None:
    """(release, Kind/name) of a finding in a rendered release file; None outside one."""
    path = scanned / finding.file if not Path(finding.file).is_absolute() else Path(finding.file)
    match = RENDERED_FILE.match(path.name)
    if match is None:
        return None
    if finding.resource:
        kind, _namespace, name = finding.resource.split(".", 2)
        return match["release"], f"{kind}/{name}"
    document = _document_at(path, finding.line)
    if document is None:
        return None
    return match["release"], f"{document.get('kind')}/{(document.get('metadata') or {}).get('name')}"


def _document_at(path: Path, line: int) -> dict | None:
    """The YAML document of a multi-document file that holds `line` (1-based)."""
    if not path.is_file():
        return None
    starts = [index + 1 for index, text in enumerate(path.read_text().splitlines()) if text.startswith("---")]
    number = sum(1 for start in starts if start <= line)
    documents = render.load_manifests(path.read_text())
    # a file opening with `---` has an empty first part before it
    offset = 0 if starts and starts[0] == 1 else 1
    index = number - 1 + offset
    document = documents[index] if 0 <= index < len(documents) else None
    return document if isinstance(document, dict) else None


def apply(result: ScanResult, scanned: Path, accepted: AcceptedFindings) -> ScanResult:
    """The scan with the findings an accepted row names taken out and counted."""
    keys = {(row.check, row.release, obj) for row in accepted.findings for obj in row.objects}
    kept = []
    for finding in result.items:
        where = located(finding, scanned)
        if where is not None and (finding.check, *where) in keys:
            continue
        kept.append(finding)
    return replace(result, items=kept, suppressed=len(result.items) - len(kept))
