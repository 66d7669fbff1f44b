"""Cloud credentials for a GitHub Actions job, through OIDC where the cloud allows it.

aws:    fetch the job's OIDC token for sts.amazonaws.com into a file; the AWS provider
        and backend assume AWS_ROLE_ARN with it (AWS_WEB_IDENTITY_TOKEN_FILE).
azure:  ARM_USE_OIDC=true; the azurerm provider and backend fetch the token themselves.
linode: the API token and the Object Storage keys of the state bucket, from secrets.
Values are exported to later steps through $GITHUB_ENV, never printed.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path


def export(name: str, value: str) -> None:
    with Path(os.environ["GITHUB_ENV"]).open("a") as handle:
        handle.write(f"{name}={value}\n")


def oidc_token(audience: str) -> str:
    url = f"{os.environ['ACTIONS_ID_TOKEN_REQUEST_URL']}&audience={audience}"
    if not url.startswith("https://"):
        raise SystemExit("error: ACTIONS_ID_TOKEN_REQUEST_URL is not an https URL")
    request = urllib.request.Request(  # noqa: S310 (https checked above)
        url,
        headers={"Authorization": f"bearer {os.environ['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (https checked above)
        return json.load(response)["value"]


def main(cloud: str) -> int:
    if cloud == "aws":
        token_file = Path(os.environ["RUNNER_TEMP"]) / "aws-web-identity-token"
        token_file.write_text(oidc_token("sts.amazonaws.com"))
        token_file.chmod(0o600)
        export("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    elif cloud == "azure":
        export("ARM_USE_OIDC", "true")
    elif cloud == "linode":
        export("LINODE_TOKEN", os.environ["LINODE_TOKEN_SECRET"])
        export("AWS_ACCESS_KEY_ID", os.environ["STATE_KEY_ID"])
        export("AWS_SECRET_ACCESS_KEY", os.environ["STATE_SECRET"])
    else:
        print(f"error: unknown cloud {cloud!r} (aws, azure, linode)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
