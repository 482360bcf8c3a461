"""``sshcore.agent`` is :mod:`sshcore.files.agent` (its home since the layer packages); this
name stays importable for the code that uses it."""

import sys

from .files import agent as _module

sys.modules[__name__] = _module
