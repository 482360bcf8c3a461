"""``sshcore.chanreq`` is :mod:`sshcore.kernel.chanreq` (its home since the layer packages); this
name stays importable for the code that uses it."""

import sys

from .kernel import chanreq as _module

sys.modules[__name__] = _module
