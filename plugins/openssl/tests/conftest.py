"""The interop fixtures (``keys``, ``start_sshd``, ``helpers``: real OpenSSH on 127.0.0.1)
of ``tests/interop/conftest.py``, for this plugin's tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[3] / "tests" / "interop" / "conftest.py"
_spec = importlib.util.spec_from_file_location("sshcore_openssl_tests_interop", _PATH)
assert _spec is not None and _spec.loader is not None
_interop = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _interop  # its dataclasses look their module up
_spec.loader.exec_module(_interop)

keys = _interop.keys
start_sshd = _interop.start_sshd
helpers = _interop.helpers
