"""``sshcore.passwords`` is :mod:`sshcore.files.passwords` (its home since the layer packages); this
name stays importable for the code that uses it."""

import sys

from .files import passwords as _module

sys.modules[__name__] = _module
