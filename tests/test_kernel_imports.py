"""The kernel is sans-I/O and algorithm-free: importing it loads neither asyncio nor Crypto."""

from __future__ import annotations

import subprocess
import sys

import pytest

KERNEL_MODULES = ["sshcore", "sshcore._wire", "sshcore.kernel._framing", "sshcore.kernel._transport",
                  "sshcore.kernel._userauth", "sshcore.kernel._channels", "sshcore.connection",
                  "sshcore.registry", "sshcore.hookspecs", "sshcore.negotiate", "sshcore.events",
                  "sshcore.interfaces", "sshcore.testing", "sshcore.srclimit", "sshcore.kernel._timeouts",
                  "sshcore.sshd_config", "sshcore.options", "sshcore.clientpolicy", "sshcore.x11"]


@pytest.mark.parametrize("module", KERNEL_MODULES)
def test_kernel_module_imports_no_asyncio_or_crypto(module):
    code = (f"import sys, {module}; bad = [m for m in ('asyncio', 'Crypto', 'cryptography') "
            "if m in sys.modules]; print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_no_crypto_import_anywhere_in_kernel_source():
    from pathlib import Path

    import sshcore

    root = Path(sshcore.__file__).parent
    offenders = [str(p) for p in root.rglob("*.py")
                 if any(line.lstrip().startswith(("import Crypto", "from Crypto"))
                        for line in p.read_text().splitlines())]
    assert offenders == []
