"""The salted password-hash file behind ``sshcore serve --password-file``."""

from __future__ import annotations

import pytest

from sshcore.errors import ConfigurationError
from sshcore.passwords import PasswordFile, hash_password


def test_round_trip_and_verify(tmp_path):
    path = tmp_path / "pw"
    pf = PasswordFile(path)
    pf.set("alice", "correct horse")
    pf.set("bob", "hunter2")
    pf.write()
    assert (path.stat().st_mode & 0o777) == 0o600
    again = PasswordFile.read(path)
    assert again.verify("alice", "correct horse")
    assert not again.verify("alice", "hunter2")
    assert not again.verify("carol", "correct horse")
    assert "correct horse" not in path.read_text()


def test_same_password_gets_a_different_salt():
    assert hash_password("x") != hash_password("x")


@pytest.mark.parametrize("line, why", [
    ("alice", "expected user:hash"),
    ("alice:$md5$abc", "not an sshcore scrypt hash"),
    ("alice:$scrypt$ln=40,r=8,p=1$AAAA$AAAA", "out of range"),
])
def test_bad_lines_name_file_and_line(tmp_path, line, why):
    path = tmp_path / "pw"
    path.write_text("# comment\n\n" + line + "\n")
    with pytest.raises(ConfigurationError) as info:
        PasswordFile.read(path)
    assert f"{path}, line 3" in str(info.value) and why in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigurationError, match="no such password file"):
        PasswordFile.read(tmp_path / "absent")
    assert not PasswordFile.read(tmp_path / "absent", missing_ok=True)


def test_refresh_picks_up_changes(tmp_path):
    path = tmp_path / "pw"
    pf = PasswordFile(path)
    pf.set("a", "1")
    pf.write()
    live = PasswordFile.read(path)
    other = PasswordFile.read(path)
    other.set("b", "2")
    other.write()
    assert not live.verify("b", "2")
    live.refresh()
    assert live.verify("b", "2")
