"""Load and fault tests against a real ``sshcore serve`` (CI sizes; ``python -m
tests.load.run --full`` runs the issue's: 500 concurrent, 10,000 dropped connections)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.load import run, scenarios as sc

SIZE = run.SIZES["ci"]


@pytest.fixture
def ident(tmp_path):
    return sc.Identity(tmp_path / "id")


@pytest.fixture
def server(tmp_path, ident):
    srv = sc.start_server(tmp_path / "home", ident)
    yield srv
    srv.stop()


def report(name, fig):
    print(f"{name}: {json.dumps(fig)}")  # the figures, for the log (pytest -s shows them)


@pytest.mark.timeout(90)
def test_concurrent_kex_auth_exec(server, ident):
    fig = asyncio.run(sc.concurrent_exec(server, ident, SIZE["concurrent"], timeout=75))
    report("concurrent_exec", fig)
    assert run.check_concurrent(fig) == []


@pytest.mark.timeout(90)
def test_slow_and_silent_peers_do_not_starve_clients(server, ident):
    fig = asyncio.run(sc.slow_peers(server, ident, SIZE["slow_peers"], SIZE["slow_clients"]))
    report("slow_peers", fig)
    assert run.check_slow(fig) == []


@pytest.mark.timeout(150)
def test_dropped_connections_release_memory_descriptors_and_processes(server, ident):
    fig = asyncio.run(sc.memory_churn(server, ident, SIZE["churn"], SIZE["warmup"], SIZE["rounds"]))
    report("memory_churn", fig)
    assert set(fig["outcomes"]) == set(sc.PHASES)  # every drop point was reached
    assert run.check_memory(fig, SIZE["rss_noise_kib"]) == []


def test_launch_passes_max_startups_only_when_supported():
    from tests.load import serve

    has = "--max-startups" in serve.serve_help()
    penalties = "--per-source-penalties" in serve.serve_help()
    assert serve.unlimited_startups_args() == ((["--max-startups", "none"] if has else [])
                                               + (["--per-source-penalties", "no"] if penalties else []))
    import inspect

    import sshcore

    assert ("max_startups" in serve.listen_kwargs()) == ("max_startups" in inspect.signature(sshcore.listen).parameters)
    assert serve.listen_kwargs().get("per_source_penalties", False) is False
