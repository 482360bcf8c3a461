"""``sshcore.negotiate`` is :mod:`sshcore.kernel.negotiate` (its home since the layer packages); this
name stays importable for the code that uses it."""

import sys

from .kernel import negotiate as _module

sys.modules[__name__] = _module
