"""``sshcore.messages`` is :mod:`sshcore.kernel.messages` (its home since the layer packages); this
name stays importable for the code that uses it."""

import sys

from .kernel import messages as _module

sys.modules[__name__] = _module
