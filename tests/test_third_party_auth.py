"""A third-party auth method, installed with pip, used by our client and our server."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN = Path(__file__).parent / "toy_auth_plugin"

SCRIPT = textwrap.dedent("""
    import asyncio, sshcore
    from sshcore.keys import generate_private_key

    class Server(sshcore.SSHServer):
        def validate_auth(self, username, method, kind, info):
            return method == "x-token@example.com" and info["token"] == "s3cret-token"

    async def handler(proc):
        proc.stdout.write("in as " + proc.get_extra_info("username"))
        return 0

    async def main():
        srv = await sshcore.listen("127.0.0.1", 0, server_host_keys=[generate_private_key()],
                                   server_factory=Server, process_factory=handler)
        async with srv:
            async with sshcore.connect("127.0.0.1", srv.port, username="tok", client_keys=[],
                                       known_hosts=None,
                                       auth_credentials={"x_token": "s3cret-token"}) as conn:
                print((await conn.run("x")).stdout)
            try:
                await sshcore.connect("127.0.0.1", srv.port, username="tok", client_keys=[],
                                      known_hosts=None, auth_credentials={"x_token": "forged"})
            except sshcore.PermissionDeniedError as exc:
                print("refused:", exc)
    asyncio.run(asyncio.wait_for(main(), 30))
""")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, **kw)


def test_token_auth_plugin_end_to_end(child_venv):
    py = child_venv()
    r = run([py, "-m", "pip", "install", "--no-deps", "--no-build-isolation", str(PLUGIN)])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([py, "-m", "sshcore", "algorithms"])
    assert "x-token@example.com" in r.stdout and "sshcore-token-auth 0.1.0" in r.stdout
    r = run([py, "-c", SCRIPT])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "in as tok"
    assert lines[1].startswith("refused: permission denied")
    # Without the plugin installed the method does not exist for either side.
    r = run([sys.executable, "-m", "sshcore", "algorithms"])
    assert "x-token@example.com" not in r.stdout
