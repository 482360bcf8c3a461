"""Hook implementations: the auth methods this distribution contributes."""

from __future__ import annotations

from collections.abc import Sequence

from sshcore import hookimpl
from sshcore.interfaces import AuthMethod

from ._hostbased import HostBasedClient, HostBasedServer
from ._kbdint import KbdIntClient, KbdIntServer
from ._password import PasswordClient, PasswordServer
from ._publickey import PublicKeyClient, PublicKeyServer


@hookimpl
def sshcore_auth_methods() -> Sequence[AuthMethod]:
    return [
        AuthMethod("hostbased", client=HostBasedClient, server=HostBasedServer, priority=110),
        AuthMethod("publickey", client=PublicKeyClient, server=PublicKeyServer, priority=100),
        AuthMethod("keyboard-interactive", client=KbdIntClient, server=KbdIntServer, priority=60),
        AuthMethod("password", client=PasswordClient, server=PasswordServer, priority=50),
    ]
