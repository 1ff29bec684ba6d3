"""Pytest fixtures that give tests a running lab (loaded by ``tests/conftest.py``).

- ``lab_session``: one `Lab` for the whole session, started on first use (its directory
  under ``tmp_path_factory``), stopped at session end with a check that none of its
  processes is left.
- ``lab_nginx``, ``lab_gateway``, ``lab_istio``, ``lab_service``: the session lab reseeded
  for that router kind (faults cleared, router objects, Leases and Events reset, 100% blue).
- ``lab``: the same, router chosen by indirect parametrization (default ``nginx``)::

      @pytest.mark.parametrize("lab", ["gateway", "istio"], indirect=True)
      def test_x(lab): ...

Tests that use any of these get the ``lab`` marker. ``LAB_CREDENTIAL=client-certificate``
(or ``exec``; default ``token``) points ``lab.info["kubeconfig"]``, which the tests hand to
shifter and kubectl, at that kind of kubeconfig, to run the whole lab suite with it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lab.core import Lab

LAB_FIXTURES = ("lab_session", "lab", "lab_nginx", "lab_gateway", "lab_istio", "lab_service")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if any(name in names for name in LAB_FIXTURES):
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def lab_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    from lab.core import Lab
    from lab.procs import pid_alive

    credential = os.environ.get("LAB_CREDENTIAL", "token")
    if credential not in ("token", "client-certificate", "exec"):
        raise pytest.UsageError(f"LAB_CREDENTIAL: expected token, client-certificate or exec, "
                                f"got {credential!r}")
    the_lab = Lab(tmp_path_factory.mktemp("lab"), router="nginx", rps=50.0)
    the_lab.start()
    the_lab.info["kubeconfig"] = the_lab.info["kubeconfigs"][credential]
    try:
        yield the_lab
    finally:
        the_lab.stop()
        left = [pid for pid in the_lab.pids if pid_alive(pid)]
        assert not left, f"lab processes left after stop: {left}"


def _reseeded(lab_session: Lab, router: str) -> Lab:
    lab_session.reseed(router)
    return lab_session


@pytest.fixture
def lab(request: pytest.FixtureRequest, lab_session: Lab) -> Lab:
    router: Any = getattr(request, "param", "nginx")
    return _reseeded(lab_session, str(router))


@pytest.fixture
def lab_nginx(lab_session: Lab) -> Lab:
    return _reseeded(lab_session, "nginx")


@pytest.fixture
def lab_gateway(lab_session: Lab) -> Lab:
    return _reseeded(lab_session, "gateway")


@pytest.fixture
def lab_istio(lab_session: Lab) -> Lab:
    return _reseeded(lab_session, "istio")


@pytest.fixture
def lab_service(lab_session: Lab) -> Lab:
    return _reseeded(lab_session, "service")
