#!/usr/bin/env bash
# Installs everything sshcore needs on a fresh Debian/Ubuntu machine into a project
# virtual environment, .venv/ beside this folder: the sshcore kernel, every plugin under
# plugins/ (editable), and the test tools; OpenSSH and python3-venv come from apt where
# missing.  Works the same with a stock, externally managed (PEP 668) system python3 and
# with a private interpreter.  Safe to run again.
#
#   PYTHON=/usr/bin/python3   the interpreter the venv is made from (default: python3)
#   SSHCORE_VENV=DIR          where the venv goes (default: .venv in the checkout)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
apt_updated=""
apt_install() {
    [ -n "$apt_updated" ] || { $SUDO apt-get update -q; apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "$@"
}

# bc: the seed's math_client example runs it on the server
if ! command -v ssh >/dev/null || ! command -v ssh-keygen >/dev/null || [ ! -x /usr/sbin/sshd ] \
        || ! command -v bc >/dev/null; then
    apt_install openssh-server openssh-client bc
fi
$SUDO mkdir -p /run/sshd
# putty-tools: puttygen makes and checks the PuTTY (.ppk) key test vectors
if ! command -v puttygen >/dev/null; then
    apt_install putty-tools
fi
# xauth: X11 forwarding (ssh -X / sshcore run -X make and store cookies with it; the
# X11 tests run it on both sides)
if [ ! -x /usr/bin/xauth ]; then
    apt_install xauth
fi
# openssh-tests: OpenSSH's software security-key provider (sk-dummy.so), with which the
# real ssh-agent holds and signs with an sk key without a token
if [ ! -f /usr/lib/openssh/regress/misc/sk-dummy/sk-dummy.so ]; then
    apt_install openssh-tests >/dev/null
fi
# fail2ban: the audit tests run its stock sshd filter (fail2ban-regex) over our log lines
if ! command -v fail2ban-regex >/dev/null || [ ! -f /etc/fail2ban/filter.d/sshd.conf ]; then
    apt_install fail2ban >/dev/null
fi

PY=${PYTHON:-python3}
VENV=${SSHCORE_VENV:-.venv}
command -v "$PY" >/dev/null || { echo "setup.sh: no interpreter '$PY' (set PYTHON=...)" >&2; exit 1; }
# Debian and Ubuntu ship venv and ensurepip in a separate package (python3.X-venv).
if ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
    ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    apt_install python3-venv "python$ver-venv" || apt_install python3-venv
fi
# A venv whose interpreter is gone (the base python was removed or replaced) is remade.
if [ -e "$VENV" ] && ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    rm -rf "$VENV"
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"

"$VPY" -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel
# The kernel with its test extra, then every plugin distribution (each has its own
# pyproject.toml), all editable so that the checkout is what runs.
args=(-e ".[test]")
for p in plugins/*/pyproject.toml; do args+=(-e "$(dirname "$p")"); done
"$VPY" -m pip install -q --disable-pip-version-check "${args[@]}"
echo "setup.sh: sshcore is installed in $VENV ($("$VPY" -c 'import sys; print(sys.version.split()[0])'));" \
     "run it as $VENV/bin/sshcore, or activate with: . $VENV/bin/activate"
