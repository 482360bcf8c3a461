"""RFC 4253 section 7.1 algorithm selection, as pure functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import NoCommonAlgorithmError


def choose(family: str, client: Sequence[str], server: Sequence[str]) -> str:
    """The first algorithm on the client's list that the server also supports."""
    server_set = set(server)
    for name in client:
        if name in server_set:
            return name
    raise NoCommonAlgorithmError(
        f"no matching {family} algorithm: client offered [{','.join(client)}], "
        f"server offered [{','.join(server)}]", family=family, client_offer=tuple(client),
        server_offer=tuple(server))


def choose_kex(client_kex: Sequence[str], server_kex: Sequence[str],
               client_hostkey: Sequence[str], server_hostkey: Sequence[str],
               needs_signature: Callable[[str], bool] | None = None) -> tuple[str, str]:
    """Pick (kex, host key algorithm).

    The kex is the first client kex supported by the server for which a compatible host
    key algorithm exists (section 7.1); all our kex methods need a signature-capable host
    key, so any common host key algorithm qualifies.
    """
    common_hostkey = [h for h in client_hostkey if h in set(server_hostkey)]
    server_set = set(server_kex)
    for name in client_kex:
        if name not in server_set:
            continue
        if needs_signature is None or needs_signature(name):
            if not common_hostkey:
                continue
        return name, common_hostkey[0] if common_hostkey else ""
    if not common_hostkey and any(k in server_set for k in client_kex):
        choose("host key", client_hostkey, server_hostkey)
    return choose("kex", client_kex, server_kex), ""
