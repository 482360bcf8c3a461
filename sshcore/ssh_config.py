"""``sshcore.ssh_config`` is :mod:`sshcore.files.ssh_config` (its home since the layer packages); this
name stays importable for the code that uses it."""

import sys

from .files import ssh_config as _module

sys.modules[__name__] = _module
