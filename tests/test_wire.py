"""RFC 4251 data types: round trips and hostile input (property tests)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sshcore._wire import (DecodeError, SSHReader, boolean, byte, mpint, name_list, string, uint32,
                           uint64)
from sshcore.errors import RemoteProtocolError

names = st.lists(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                                                blacklist_characters=","), min_size=1, max_size=20),
                 max_size=8)


@given(st.integers(min_value=-(1 << 600), max_value=1 << 600))
def test_mpint_round_trip(value):
    assert SSHReader(mpint(value)).mpint() == value


def test_mpint_rfc4251_examples():
    # RFC 4251 section 5 examples
    assert mpint(0) == bytes.fromhex("00000000")
    assert mpint(0x9A378F9B2E332A7) == bytes.fromhex("0000000809a378f9b2e332a7")
    assert mpint(0x80) == bytes.fromhex("000000020080")
    assert mpint(-0x1234) == bytes.fromhex("00000002edcc")
    assert mpint(-0xDEADBEEF) == bytes.fromhex("00000005ff21524111")


@given(st.binary(max_size=300), st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1),
       st.booleans(), st.integers(0, 255), names)
def test_round_trip_all_types(data, u32, u64, flag, b, nl):
    blob = string(data) + uint32(u32) + uint64(u64) + boolean(flag) + byte(b) + name_list(nl)
    r = SSHReader(blob)
    assert r.string() == data
    assert r.uint32() == u32
    assert r.uint64() == u64
    assert r.boolean() == flag
    assert r.byte() == b
    assert r.name_list() == nl
    r.finish()


@given(st.binary(max_size=64))
def test_random_bytes_only_raise_decode_error(data):
    r = SSHReader(data)
    for op in (r.string, r.uint32, r.name_list, r.mpint, r.uint64, r.boolean, r.text):
        try:
            op()
        except RemoteProtocolError:
            pass


def test_truncated_string_is_decode_error():
    with pytest.raises(DecodeError):
        SSHReader(uint32(10) + b"abc").string()


def test_trailing_data_detected():
    r = SSHReader(uint32(1) + b"x")
    r.uint32()
    with pytest.raises(DecodeError):
        r.finish()


def test_empty_name_in_list_rejected():
    with pytest.raises(DecodeError):
        SSHReader(string(b"a,,b")).name_list()
