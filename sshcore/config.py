"""``sshcore.config`` is :mod:`sshcore.kernel.config` (its home since the layer packages); this
name stays importable for the code that uses it."""

import sys

from .kernel import config as _module

sys.modules[__name__] = _module
