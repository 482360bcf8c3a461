"""The ``sshcore`` pytest plugin entry point: the conformance kit's fixtures, on request.

Installing sshcore registers this module under the ``pytest11`` entry point ``sshcore``,
but it adds fixtures to a test run only when the run asks for them, so that merely
having sshcore installed changes no test suite:

* ``pytest --sshcore-kit``, or ``sshcore_kit = true`` in the ``[pytest]`` ini section;
* or ``pytest_plugins = ["sshcore.conformance.fixtures"]`` in a root ``conftest.py``
  (``-p sshcore.conformance.fixtures`` on the command line does the same).

See :mod:`sshcore.conformance.fixtures` for the fixtures and ``docs/plugin-api.md``.
"""

from __future__ import annotations

from typing import Any

FIXTURES = "sshcore.conformance.fixtures"


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("sshcore", "sshcore conformance kit")
    group.addoption("--sshcore-kit", action="store_true", default=False,
                    help="enable the sshcore conformance kit's fixtures (sshcore_kit, "
                         "sshcore_openssh)")
    parser.addini("sshcore_kit", type="bool", default=False,
                  help="enable the sshcore conformance kit's fixtures")


def pytest_configure(config: Any) -> None:
    enabled = config.getoption("sshcore_kit", False) or config.getini("sshcore_kit")
    if enabled and not config.pluginmanager.has_plugin(FIXTURES):
        import importlib

        config.pluginmanager.register(importlib.import_module(FIXTURES), FIXTURES)
