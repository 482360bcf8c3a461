"""pytest fixtures of the conformance kit (enabled as :mod:`sshcore.pytest_plugin` says).

* ``sshcore_openssh`` (session): an :class:`~sshcore.conformance.OpenSSH` whose keys and
  ``sshd`` configurations live in pytest's temporary directory; every ``sshd`` it starts
  listens on 127.0.0.1 on a free port and is stopped at the end of the session (safe
  under ``pytest-xdist``: each worker has its own).
* ``sshcore_vectors`` (session): ``{algorithm name: [vector, ...]}``, empty by default; a
  plugin's ``conftest.py`` overrides it to give its known-answer vectors.
* ``sshcore_kit``: the six checks with ``openssh=`` and ``vectors=`` filled in from the
  two fixtures above: ``sshcore_kit.check_cipher("aes128-ctr")``; and, for tests of
  your own, ``sshcore_kit.openssh`` (start ``sshd``, run ``ssh``),
  ``sshcore_kit.pair(**options)`` (an in-process sshcore client and server, see
  :func:`~sshcore.conformance.inprocess_pair`) and ``sshcore_kit.echo_transfer``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from types import SimpleNamespace
from typing import Any

import pytest

from . import (OpenSSH, check_auth_method, check_cipher, check_compression, check_host_key,
               check_kex, check_mac, echo_transfer, inprocess_pair)

CHECKS = (check_cipher, check_mac, check_kex, check_compression, check_host_key,
          check_auth_method)


@pytest.fixture(scope="session")
def sshcore_openssh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenSSH]:
    env = OpenSSH(tmp_path_factory.mktemp("sshcore-kit"))
    try:
        yield env
    finally:
        env.close()


@pytest.fixture(scope="session")
def sshcore_vectors() -> Mapping[str, Any]:
    return {}


def _bound(check: Any, env: OpenSSH, vectors: Mapping[str, Any]) -> Any:
    @functools.wraps(check)
    def run(name: str, provider: str | None = None, **kw: Any) -> Any:
        kw.setdefault("openssh", env)
        kw.setdefault("vectors", vectors.get(name))
        return check(name, provider, **kw)
    return run


@pytest.fixture
def sshcore_kit(sshcore_openssh: OpenSSH, sshcore_vectors: Mapping[str, Any]) -> Any:
    return SimpleNamespace(**{c.__name__: _bound(c, sshcore_openssh, sshcore_vectors)
                              for c in CHECKS}, openssh=sshcore_openssh,
                           pair=inprocess_pair, echo_transfer=echo_transfer)
