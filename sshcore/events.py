"""``sshcore.events`` is :mod:`sshcore.kernel.events` (its home since the layer packages); this
name stays importable for the code that uses it."""

import sys

from .kernel import events as _module

sys.modules[__name__] = _module
