"""``sshcore.connection`` is :mod:`sshcore.kernel.connection` (its home since the layer packages); this
name stays importable for the code that uses it."""

import sys

from .kernel import connection as _module

sys.modules[__name__] = _module
