"""``sshcore.keys`` is :mod:`sshcore.files.keys` (its home since the layer packages); this
name stays importable for the code that uses it."""

import sys

from .files import keys as _module

sys.modules[__name__] = _module
