"""The conformance kit: prove an algorithm plugin against real OpenSSH and sshcore itself.

One check per family — :func:`check_cipher`, :func:`check_mac`, :func:`check_kex`,
:func:`check_compression`, :func:`check_host_key`, :func:`check_auth_method` — each taking
the algorithm's name, optionally the distribution that must serve it (``provider=``,
as for ``implementations=``), known-answer ``vectors`` (see :mod:`sshcore.conformance._units`
for the format) and an :class:`OpenSSH` environment (the pytest fixture
``sshcore_openssh`` gives one per session; without it each check makes its own).

Each check, in order, and failing with an :class:`AssertionError` naming what broke:

1. the descriptor's objects alone (round trips, tampering refused) and the vectors;
2. sshcore client against sshcore server in process, the algorithm forced on both
   ends: ``size`` bytes (16 MiB) each way through an echo, compared by SHA-256, with
   rekeying every ``size // 4`` bytes;
3. when OpenSSH knows the name (``ssh -Q``): sshcore client against a temporary
   ``sshd``, and OpenSSH ``ssh`` against an sshcore server, the same transfer and rekeys;
4. failure paths: a corrupted packet is refused with ``MAC_ERROR`` by our server and by
   our client (cipher, MAC, compression); a malformed key exchange message ends in a
   key-exchange failure, never an exception in the event loop, and a host-key signature
   over the wrong data is refused (kex, host key); wrong credentials are refused (auth).

Every check returns a :class:`Report` listing the scenarios it ran.  The building blocks
are public too: :class:`OpenSSH` (``start_sshd(options)``, ``ssh_args(...)`` and
``run_ssh(...)``), :func:`inprocess_pair` (an sshcore client connected to an sshcore
server in the running event loop) and :func:`echo_transfer` (bytes each way, checksummed).  See
``docs/plugins/`` for each family's contract.

.. versionadded:: 0.2
"""

from __future__ import annotations

from ._checks import (DEFAULT_SIZE, AuthSetup, Report, check_auth_method, check_cipher,
                      check_compression, check_host_key, check_kex, check_mac)
from ._openssh import OpenSSH, Sshd, openssh_names
from ._session import echo_transfer, inprocess_pair
from ._units import Vector

__all__ = ["DEFAULT_SIZE", "AuthSetup", "OpenSSH", "Report", "Sshd", "Vector", "echo_transfer",
           "inprocess_pair",
           "check_auth_method", "check_cipher", "check_compression", "check_host_key",
           "check_kex", "check_mac", "openssh_names"]
