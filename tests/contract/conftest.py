"""Fixtures for contract tests: a running API emulator, a kubeconfig for it, and an
official `kubernetes` client loaded from that kubeconfig.

One emulator serves the whole session; `apiserver` resets it before each test (empty
store with namespaces default, kube-system and demo; no faults, RBAC rules or request log).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.apiserver import APIServer

KUBECTL = Path(sys.executable).parent / "kubectl"


@pytest.fixture(scope="session")
def _apiserver_session() -> Iterator[APIServer]:
    server = APIServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def apiserver(_apiserver_session: APIServer) -> APIServer:
    """A started APIServer, reset for this test, with namespace `demo`."""
    server = _apiserver_session
    server.reset()
    server.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
    return server


@pytest.fixture(scope="session")
def _kube_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kubehome")


@pytest.fixture
def kubeconfig(apiserver: APIServer, _kube_home: Path) -> Path:
    """A kubeconfig for `apiserver` with the admin token, namespace `demo`."""
    return apiserver.write_kubeconfig(_kube_home / "admin.kubeconfig", namespace="demo")


@pytest.fixture
def kube_api(kubeconfig: Path) -> Iterator[Any]:
    """An official `kubernetes.client.ApiClient` loaded from `kubeconfig` (closed after)."""
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    api = client.ApiClient(configuration)
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def kubectl(kubeconfig: Path, _kube_home: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `.venv/bin/kubectl --kubeconfig KUBECONFIG ARGS...` (text output, no check)."""
    env = {**os.environ, "HOME": str(_kube_home), "KUBECACHEDIR": str(_kube_home / "cache")}

    def run(*args: str, input: str | None = None,  # noqa: A002
            config: Path | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [str(KUBECTL), "--kubeconfig", str(config or kubeconfig), *args]
        return subprocess.run(cmd, capture_output=True, text=True, input=input, env=env,
                              timeout=60, check=False)

    return run
