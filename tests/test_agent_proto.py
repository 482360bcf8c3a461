"""The I/O-free agent protocol: untrusted replies give AgentError, never a crash."""

from __future__ import annotations

import pytest

from sshcore.files import _agent_proto as proto
from sshcore._wire import byte, string, uint32


def test_reply_length_bounds():
    assert proto.reply_length(uint32(5)) == 5
    for bad in (uint32(0), uint32(proto.MAX_REPLY + 1), b"\0\0"):
        with pytest.raises(proto.AgentError):
            proto.reply_length(bad)


def test_malformed_replies():
    with pytest.raises(proto.AgentError, match="empty reply"):
        proto.parse_status(b"", "lock")
    with pytest.raises(proto.AgentError, match=r"refused to lock \(failure\)"):
        proto.parse_status(byte(proto.FAILURE), "lock")
    with pytest.raises(proto.AgentError, match="claims 1000000 keys"):
        proto.parse_identities(byte(proto.IDENTITIES_ANSWER) + uint32(1_000_000))
    with pytest.raises(proto.AgentError, match="malformed key list"):
        proto.parse_identities(byte(proto.IDENTITIES_ANSWER) + uint32(1) + string(b"k") + b"\0\0")
    with pytest.raises(proto.AgentError, match="malformed signature"):
        proto.parse_sign_response(byte(proto.SIGN_RESPONSE) + string(b"sig") + b"x")
    ids = proto.parse_identities(byte(proto.IDENTITIES_ANSWER) + uint32(1) + string(b"k")
                                 + string(b"bad \xff utf-8"))
    assert ids == [proto.Identity(b"k", "bad \ufffd utf-8")]


def test_constraints_select_the_constrained_request():
    plain = proto.encode_add_identity(b"F", "c")
    constrained = proto.encode_add_identity(b"F", "c", lifetime=7, confirm=True)
    assert plain[4] == proto.ADD_IDENTITY and constrained[4] == proto.ADD_ID_CONSTRAINED
    assert constrained.endswith(byte(proto.CONSTRAIN_LIFETIME) + uint32(7)
                                + byte(proto.CONSTRAIN_CONFIRM))
    with pytest.raises(ValueError):
        proto.encode_constraints(lifetime=1 << 32)
