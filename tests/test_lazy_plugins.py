"""Descriptors carry names and metadata; implementations (and crypto) load at first use."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from sshcore.interfaces import LazyCallable, lazy

LIST_ALL = """
import sys
from sshcore.registry import FAMILIES, build_registry
reg = build_registry()
for family in FAMILIES:
    names = reg.names(family)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("Crypto", "cryptography", "numpy", "bcrypt"))
print(heavy)
print(len(reg.names("cipher")), len(reg.names("kex")), len(reg.names("signature")))
"""

USE_ONE = """
import sys
from sshcore.registry import build_registry
reg = build_registry()
c = reg.get("cipher", "aes128-ctr").factory(key=bytes(16), iv=bytes(16), encrypt=True)
print("Crypto" in sys.modules)
"""


def _py(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_listing_every_algorithm_imports_no_crypto_library():
    heavy, counts = _py(LIST_ALL).splitlines()
    assert heavy == "[]"
    ciphers, kex, sigs = map(int, counts.split())
    assert ciphers >= 6 and kex >= 6 and sigs >= 7  # the standard plugins really were listed


def test_the_command_line_listing_imports_no_crypto_library():
    code = ("import sys, runpy; sys.argv = ['sshcore', 'algorithms'];\n"
            "import contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    try:\n        runpy.run_module('sshcore', run_name='__main__')\n"
            "    except SystemExit:\n        pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('Crypto', 'cryptography', 'numpy')))\n"
            "print('aes128-ctr' in out.getvalue())")
    heavy, listed = _py(code).splitlines()
    assert heavy == "[]" and listed == "True"


def test_using_an_algorithm_loads_its_implementation():
    assert _py(USE_ONE).strip() == "True"


def test_lazy_binds_arguments_and_pickles():
    f = lazy("builtins:int", base=16)
    assert f("ff") == 255
    g = lazy("os.path:join", "a")
    assert g("b") == "a/b"
    h = pickle.loads(pickle.dumps(f))
    assert isinstance(h, LazyCallable) and h == f and h("10") == 16
    assert lazy("os:path.join")("x", "y") == "x/y"  # dotted attribute


@pytest.mark.parametrize("bad", ["os.path", ":join", "os:", ""])
def test_lazy_rejects_a_target_without_module_and_attribute(bad):
    with pytest.raises(ValueError, match="module:attribute"):
        lazy(bad)


def test_a_missing_implementation_fails_at_first_use_with_its_name():
    f = lazy("sshcore_no_such_module_xyz:thing")
    with pytest.raises(ModuleNotFoundError, match="sshcore_no_such_module_xyz"):
        f()
