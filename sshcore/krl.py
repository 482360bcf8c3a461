"""``sshcore.krl`` is :mod:`sshcore.files.krl` (its home since the layer packages); this
name stays importable for the code that uses it."""

import sys

from .files import krl as _module

sys.modules[__name__] = _module
