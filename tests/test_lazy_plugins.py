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
# nor the plugins' own implementation modules that listing needs not
heavy += sorted(m for m in ("sshcore_kex_dh._dh", "sshcore_kex_dh._gex", "sshcore_kex_dh._groups",
                            "sshcore_sftp._protocol", "importlib.resources", "asyncio")
                if m in sys.modules)
print(heavy)
print(len(reg.names("cipher")), len(reg.names("kex")), len(reg.names("signature")))
"""

USE_ONE = """
import sys
from sshcore.registry import build_registry
reg = build_registry()
heavy = lambda: {m.split(".")[0] for m in sys.modules} & {"Crypto", "cryptography"}
before = heavy()
desc = reg.get("cipher", "aes128-ctr")
c = desc.factory(key=bytes(16), iv=bytes(16), encrypt=True)
# whichever plugin serves aes128-ctr (pycryptodome's, or sshcore-openssl's when installed)
print(not before and bool(heavy()) and desc.factory.target.partition(":")[0] in sys.modules)
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
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('Crypto', 'cryptography', 'numpy',"
            " 'asyncio', 'email')))\n"
            "print('aes128-ctr' in out.getvalue())\n"
            "print('sshcore_sftp._cli' in sys.modules)")
    heavy, listed, plugin_cli = _py(code).splitlines()
    assert heavy == "[]" and listed == "True"
    assert plugin_cli == "False"  # sshcore's own commands build no plugin command parsers


def test_plugin_commands_are_still_there_when_asked_for():
    r = subprocess.run([sys.executable, "-m", "sshcore", "--help"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "sftp" in r.stdout and "scp" in r.stdout
    r = subprocess.run([sys.executable, "-m", "sshcore", "-v", "scp", "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "usage: sshcore scp" in r.stdout


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


def test_require_finds_modules_without_importing_them():
    from sshcore.interfaces import require

    code = ("import sys\nfrom sshcore.interfaces import require\n"
            "require('Crypto.PublicKey.ECC', 'Crypto.Cipher.AES', 'bcrypt', 'json.decoder')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('Crypto', 'bcrypt')))")
    assert _py(code).strip() == "[]"
    for missing in ("Crypto.PublicKey.NoSuchThing", "no_such_top_level_xyz", "Crypto.Nope.X"):
        with pytest.raises(ImportError, match=missing.replace(".", r"\.")):
            require(missing)


HIDE_MLKEM = """
import importlib.machinery, importlib.util, os, sys, warnings
real_isfile = os.path.isfile
os.path.isfile = lambda p: False if os.path.basename(p).startswith("MLKEM") else real_isfile(p)
from sshcore.registry import build_registry
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    reg = build_registry()
os.path.isfile = real_isfile
print([b.distribution for b in reg.broken])
print([str(w.message) for w in caught])
print("sntrup761x25519-sha512" in reg.names("kex"), "curve25519-sha256" in reg.names("kex"))
"""


def test_a_lazy_plugin_missing_its_dependency_is_broken_at_registry_build():
    # pycryptodome without ML-KEM (older than 4.2) seen through a filesystem that has no
    # MLKEM module: the kex_pq plugin is reported broken when the registry is built, not
    # at the first key exchange, and the other plugins still serve.
    broken, warned, names = _py(HIDE_MLKEM).splitlines()
    assert broken == "['sshcore-kex-pq']"
    assert "Crypto.PublicKey.MLKEM" in warned
    assert names == "False True"


def test_a_client_imports_no_server_module():
    code = ("import sys\nfrom sshcore import connect\nfrom sshcore.aio.api import listen\n"
            "print(sorted(m for m in ('sshcore.aio.server', 'sshcore.srclimit', 'sshcore.aio.admission',"
            " 'sshcore.aio.audit') if m in sys.modules))")
    assert _py(code).strip() == "[]"
