"""The operator CLI against a real redis-server (in-process; one run as a real command)."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import time
from decimal import Decimal

from nautilus_riskwatch.firm.cli import main
from nautilus_riskwatch.firm.link import FirmLink


def cli(url, *args, env=None, monkeypatch=None):
    out = io.StringIO()
    code = main(["--url", url, "--firm", "acme", *args], out=out)
    return code, out.getvalue()


def latch(url):
    async def read():
        link = FirmLink(url, "acme")
        try:
            return await link.latch()
        finally:
            await link.close()

    return asyncio.run(read())


def test_kill_needs_no_secret_and_the_second_kill_is_suppressed(redis_server, monkeypatch):
    monkeypatch.delenv("RISKWATCH_FIRM_SECRET", raising=False)
    code, out = cli(redis_server.url, "kill", "--reason", "venue outage", "--who", "ops")
    assert code == 0 and out.startswith("firm acme TRIPPED (epoch 1) by ops: venue outage")
    code, out = cli(redis_server.url, "kill", "--reason", "again", "--who", "ops")
    assert code == 0 and "already tripped (epoch 1)" in out
    state = latch(redis_server.url)
    assert state.tripped and state.origin == "operator ops" and state.reason == "venue outage"


def test_rearm_is_refused_without_a_secret_for_a_stale_epoch_and_when_not_tripped(
    redis_server, monkeypatch
):
    monkeypatch.delenv("RISKWATCH_FIRM_SECRET", raising=False)
    code, out = cli(redis_server.url, "rearm", "--epoch", "1", "--reason", "x")
    assert code == 1 and "no operator secret" in out
    monkeypatch.setenv("RISKWATCH_FIRM_SECRET", "s3cret")
    code, out = cli(redis_server.url, "rearm", "--epoch", "1", "--reason", "x")
    assert code == 1 and "not tripped" in out
    cli(redis_server.url, "kill", "--reason", "one")
    cli(redis_server.url, "rearm", "--epoch", "1", "--reason", "ok", "--who", "risk")
    cli(redis_server.url, "kill", "--reason", "two")
    code, out = cli(redis_server.url, "rearm", "--epoch", "1", "--reason", "replayed")
    assert code == 1 and "stale epoch 1: the latch is at epoch 2" in out
    assert latch(redis_server.url).tripped
    code, out = cli(redis_server.url, "rearm", "--epoch", "2", "--reason", "fixed", "--who", "risk")
    assert code == 0 and "RE-ARMED: re-armed epoch 2" in out
    state = latch(redis_server.url)
    assert state.state == "armed" and state.rearm_verified("acme", b"s3cret")


def test_rearm_reads_the_secret_from_a_file(redis_server, monkeypatch, tmp_path):
    monkeypatch.delenv("RISKWATCH_FIRM_SECRET", raising=False)
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    cli(redis_server.url, "kill", "--reason", "one")
    code, _ = cli(
        redis_server.url, "rearm", "--epoch", "1", "--reason", "ok", "--secret-file", str(secret)
    )
    assert code == 0 and latch(redis_server.url).rearm_verified("acme", b"from-a-file")


def test_status_is_a_readable_table_of_latch_nodes_and_events(redis_server):
    async def beats():
        link = FirmLink(redis_server.url, "acme")
        try:
            await link.heartbeat("A", Decimal("-12.50"), "USD", "ACTIVE", 5.0, info="host-a:1")
            await link.heartbeat("B", Decimal("3.25"), "USD", "ACTIVE", 0.05, info="host-b:2")
        finally:
            await link.close()

    asyncio.run(beats())
    time.sleep(0.1)  # B's heartbeat (ttl 0.05 s) expires
    cli(redis_server.url, "kill", "--reason", "venue outage", "--who", "ops")
    code, out = cli(redis_server.url, "status")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("FIRM acme   latch TRIPPED   epoch 1")
    assert "by operator ops: [manual] venue outage" in lines[1]
    a = next(line for line in lines if line.strip().startswith("A "))
    b = next(line for line in lines if line.strip().startswith("B "))
    assert "-12.50 USD" in a and "ACTIVE" in a and "LOST" not in a and "host-a:1" in a
    assert "3.25 USD" in b and "LOST (ttl 0.05s)" in b
    assert "firm PnL (last figures): -9.25 USD" in out
    assert "trip" in out.split("LAST EVENTS")[1] and "venue outage" in out.split("LAST EVENTS")[1]


def test_connection_errors_are_exit_2_and_never_show_the_password(redis_server):
    url = f"redis://ops:hunter2@127.0.0.1:{redis_server.port}/0"
    redis_server.kill()
    out = io.StringIO()
    code = main(["--url", url, "--firm", "acme", "--timeout", "0.5", "status"], out=out)
    assert code == 2 and "hunter2" not in out.getvalue() and "ops:***@" in out.getvalue()


def test_the_module_runs_as_a_command(redis_server):
    done = subprocess.run(
        [sys.executable, "-m", "nautilus_riskwatch", "firm", "--url", redis_server.url,
         "--firm", "acme", "kill", "--reason", "from a terminal"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "TRIPPED (epoch 1)" in done.stdout
    assert latch(redis_server.url).reason == "from a terminal"
