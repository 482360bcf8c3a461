"""Shared fixtures for kernel tests."""

from __future__ import annotations

import pytest

from sshcore.registry import build_registry
from sshcore.testing import plugin as testing_plugin


@pytest.fixture(scope="session")
def test_registry():
    """Only the insecure stand-in algorithms plus the (crypto-free) auth plugin."""
    import sshcore_auth.hooks as auth

    return build_registry(plugins=[testing_plugin, auth])
