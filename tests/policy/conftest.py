"""Render environments once per test session into a temporary build directory."""

import copy

import pytest

from voiceops import environments, render


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("rendered")
    cache = {}

    def manifests(name: str) -> list[dict]:
        if name not in cache:
            result = render.render_environment(environments.load(name), out_dir=out)
            cache[name] = render.rendered_documents(result.directory)
        return copy.deepcopy(cache[name])

    return manifests
