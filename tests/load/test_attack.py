"""The attack scenario (tests/load/attack.py) at CI size: a password-guessing flood from
40 sources and a connection flood from one, against ``sshcore serve`` with per-source
penalties, while timed legitimate clients keep logging in."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.load import attack


@pytest.mark.timeout(240)
def test_attackers_are_penalised_and_legitimate_clients_keep_connecting(tmp_path):
    fig = asyncio.run(asyncio.wait_for(attack.attack(tmp_path, attack.SIZES["ci"]), 200))
    print(f"attack: {json.dumps(fig)}")  # the figures, for the log (pytest -s shows them)
    assert attack.check(fig) == []
    assert fig["failed_password_lines"] >= fig["sources"]  # each source guessed, and was logged
    assert fig["max_tries_before_refusal"] >= 2           # refused only after guessing
