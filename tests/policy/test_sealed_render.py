"""The base chart's secrets as it renders them: a value sealed offline becomes the SealedSecret in
the secret's namespace, bound to it, unsealing with the cluster's key (a throwaway pair here)
and valid against the pinned sealed-secrets chart's CRD where the chart is cached; each preview
reads its ExternalSecrets through a store of its own."""

import json
import os
import subprocess

import jsonschema
import pytest
import yaml

from voiceops import catalog, environments, policy, render, resolved, sealing, secret_bundles, toolchain


def release(environment, name):
    return next(item for item in catalog.releases_for(environment) if item.name == name)


def test_a_sealed_value_renders_as_a_sealed_secret_that_unseals(tmp_path, monkeypatch):
    production = environments.load("production")
    certificate, private_key = sealing.new_key_pair("test-sealing", bits=2048)
    monkeypatch.setattr(secret_bundles, "SEALED_DIR", tmp_path / "sealed")
    secret_bundles.seal_values(
        production, "edge", "cloudflared-tunnel", {"token": b"tunnel-token"}, certificate
    )
    # the resolved environment as `invoke env.generate` would write it with that file committed
    resolved_path = tmp_path / "production.json"
    resolved_path.write_text(json.dumps(resolved.resolve(production)))
    monkeypatch.setattr(environments, "resolved_file", lambda name: resolved_path)
    out = tmp_path / "rendered"
    out.mkdir()
    rendered = render.render_release(production, release(production, "base"), out)
    documents = [item for item in yaml.safe_load_all(rendered.path.read_text()) if item]
    [sealed] = [item for item in documents if item["kind"] == "SealedSecret"]
    assert (
        sealed["metadata"]["namespace"] == "production" and sealed["metadata"]["name"] == "cloudflared-tunnel"
    )
    assert sealed["spec"]["template"]["metadata"]["name"] == "cloudflared-tunnel"
    bound = sealing.label("production", "cloudflared-tunnel")
    assert sealing.unseal(private_key, sealed["spec"]["encryptedData"]["token"], bound) == b"tunnel-token"
    assert "tunnel-token" not in rendered.path.read_text()
    # nothing else of the environment is sealed yet: no SealedSecret without all its keys
    assert [item["metadata"]["name"] for item in documents if item["kind"] == "SealedSecret"] == [
        "cloudflared-tunnel"
    ]

    controller = release(production, "sealed-secrets")
    if render.cached_chart(controller.chart) is None:
        pytest.skip("sealed-secrets chart not cached (invoke charts.pull): CRD validation needs it")
    crds = render.render_release(production, controller, out)
    schemas = policy.crd_schemas([item for item in yaml.safe_load_all(crds.crds.read_text()) if item])
    jsonschema.validate(sealed, schemas["bitnami.com/v1alpha1/SealedSecret"])


def test_each_preview_reads_its_secrets_through_a_store_of_its_own():
    preview = environments.load("preview")
    base = release(preview, "base")
    stores = {}
    for suffix in ("-pr-7", "-pr-8"):
        command = render.template_command(preview, base, str(render.ROOT / base.chart.path))
        result = subprocess.run(
            [*command, "--set", f"namespaceSuffix={suffix}"], capture_output=True, text=True, check=True,
            env={**os.environ, **toolchain.tool_env()},
        )  # fmt: skip
        documents = [item for item in yaml.safe_load_all(result.stdout) if item]
        [store] = [item for item in documents if item["kind"] == "ClusterSecretStore"]
        external = [item for item in documents if item["kind"] == "ExternalSecret"]
        assert {item["spec"]["secretStoreRef"]["name"] for item in external} == {store["metadata"]["name"]}
        assert all(item["metadata"]["namespace"].endswith(suffix) for item in external)
        assert all(namespace.endswith(suffix) for namespace in store["spec"]["conditions"][0]["namespaces"])
        stores[suffix] = store["metadata"]["name"]
    assert stores == {"-pr-7": "voiceops-preview-pr-7", "-pr-8": "voiceops-preview-pr-8"}
