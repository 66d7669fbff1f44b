"""End-to-end fixtures: stand-ins for the cluster and provider commands of helm, kubectl and
terraform (tests/e2e/standin.py) first on the tool path, a real moto server for the AWS API
calls and a real Azurite for the Azure Blob service. Everything else (helm template, helm
lint, kustomize, checkov, the policy gate) runs for real."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml

from voiceops import environments, generate, resolved, terraform, toolchain

HERE = Path(__file__).resolve().parent
STANDIN_TOOLS = ("helm", "kubectl", "terraform")
AWS_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                   "AWS_SESSION_TOKEN", "GITHUB_ACTOR", "CI", "VOICEOPS_APPROVED_ENVIRONMENT")  # fmt: skip
AZURE_CREDENTIALS = ("ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_USE_OIDC", "ARM_USE_MSI",
                     "ARM_SUBSCRIPTION_ID", "AZURE_STORAGE_CONNECTION_STRING")  # fmt: skip


@dataclass
class Standins:
    bin: Path
    state_file: Path
    log_file: Path

    def update(self, **values: object) -> None:
        data = json.loads(self.state_file.read_text())
        data.update(values)
        self.state_file.write_text(json.dumps(data))

    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def reachable(self, environment: environments.Environment) -> None:
        """Make the environment's cluster answer, with its namespaces created."""
        self.update(
            contexts=[environment.cluster.name], namespaces=sorted(set(environment.namespaces.values()))
        )

    def calls(self, tool: str | None = None, command: str | None = None) -> list[dict]:
        if not self.log_file.exists():
            return []
        entries = [json.loads(line) for line in self.log_file.read_text().splitlines()]
        return [
            entry for entry in entries
            if (tool is None or entry["tool"] == tool) and (command is None or command in entry["args"])
        ]  # fmt: skip


@pytest.fixture(autouse=True)
def no_credentials(tmp_path, monkeypatch):
    """No cloud credentials, approvals or kubeconfig from the machine running the tests."""
    for name in AWS_CREDENTIALS + AZURE_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("VOICEOPS_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture(scope="session")
def standin_bin(tmp_path_factory) -> Path:
    """A tool directory whose helm, kubectl and terraform are the stand-in; every other pinned
    tool (checkov, trivy, ...) is the real one, linked. One per session, so the toolchain
    check's cache holds across tests."""
    bin_dir = tmp_path_factory.mktemp("standin-bin")
    for entry in toolchain.TOOLS_BIN.iterdir():
        if entry.name not in STANDIN_TOOLS and not entry.name.startswith("."):
            (bin_dir / entry.name).symlink_to(entry.resolve())
    for tool in STANDIN_TOOLS:
        wrapper = bin_dir / tool
        wrapper.write_text(
            f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(HERE)!r})\n"
            "import standin\nsys.exit(standin.main())\n"
        )
        wrapper.chmod(0o755)
    return bin_dir


@pytest.fixture
def standins(standin_bin, tmp_path, monkeypatch) -> Standins:
    real_bin = toolchain.TOOLS_BIN
    bin_dir = standin_bin
    real_terraform = shutil.which("terraform")
    assert real_terraform, "terraform must be on the PATH"
    state_file = tmp_path / "standin-state.json"
    state_file.write_text(json.dumps({
        "contexts": [], "namespaces": [], "helm": {}, "leases": {}, "applications": {}, "services": [],
        "plan": json.loads((HERE / "sandbox-plan.json").read_text()),
    }))  # fmt: skip
    monkeypatch.setattr(toolchain, "TOOLS_BIN", bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_REAL_HELM", str(real_bin / "helm"))
    monkeypatch.setenv("STANDIN_REAL_KUBECTL", str(real_bin / "kubectl"))
    monkeypatch.setenv("STANDIN_REAL_TERRAFORM", real_terraform)
    monkeypatch.setenv("STANDIN_STATE", str(state_file))
    monkeypatch.setenv("STANDIN_LOG", str(tmp_path / "standin-calls.jsonl"))
    return Standins(bin_dir, state_file, tmp_path / "standin-calls.jsonl")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(server: subprocess.Popen, port: int, name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    server.kill()
    pytest.fail(f"{name} did not start within 30 s (exit code {server.poll()})")


@pytest.fixture(scope="session")
def moto_endpoint():
    port = free_port()
    server = subprocess.Popen(
        [str(toolchain.load_manifest().venv / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_listening(server, port, "moto_server")
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory) -> Iterator[str]:
    """A real Azure Blob service (Azurite, in memory) serving the storage account the registry
    names for azure-production's state; yields its connection string."""
    account = terraform.backend_config(environments.load("azure-production"))["storage_account_name"]
    key = base64.b64encode(b"e2e-tests-account-key").decode()
    port = free_port()
    server = subprocess.Popen(
        [toolchain.require("azurite-blob"), "--blobHost", "127.0.0.1", "--blobPort", str(port),
         "--inMemoryPersistence", "--disableTelemetry", "--silent",
         "--skipApiVersionCheck"],  # the SDK speaks a newer API version than Node 20's Azurite knows
        cwd=tmp_path_factory.mktemp("azurite"),  # where it writes its debug log, if any
        env={**toolchain.tool_env(), "AZURITE_ACCOUNTS": f"{account}:{key}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_listening(server, port, "azurite-blob")
    yield (
        f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{account};"
    )
    server.terminate()
    server.wait(timeout=10)


@dataclass
class Aws:
    """boto3 against the moto server, with the credentials the code under test sees."""

    def client(self, service: str, region: str = "us-west-2"):
        return boto3.client(service, region_name=region)

    def state_bucket(self, name: str, region: str = "us-west-2", versioned: bool = True) -> None:
        s3 = self.client("s3", region)
        if name not in {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        status = "Enabled" if versioned else "Suspended"
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})


@pytest.fixture
def aws(moto_endpoint, monkeypatch) -> Aws:
    # every test starts from an empty account
    reset = http.client.HTTPConnection(*moto_endpoint.removeprefix("http://").split(":"))
    reset.request("POST", "/moto-api/reset")
    assert reset.getresponse().status == 200
    reset.close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAE2ETESTS")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "e2e-tests-secret")
    return Aws()


@pytest.fixture
def helm_delivered(tmp_path, monkeypatch) -> environments.Environment:
    """The registry with sandbox delivered by `invoke deploy` in Helm waves instead of by Terraform."""
    registry = tmp_path / "environments"
    shutil.copytree(environments.ENVIRONMENTS_DIR, registry)
    document = yaml.safe_load((registry / "sandbox.yaml").read_text())
    document["delivery"] = "helm"
    (registry / "sandbox.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    monkeypatch.setattr(environments, "ENVIRONMENTS_DIR", registry)
    # what `invoke env.generate` would write after the edit: a deploy refuses stale files
    generate.write(resolved.resolved_files(), [resolved.resolved_dir()])
    return environments.load("sandbox")
