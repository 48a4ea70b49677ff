"""The operator CLI against a real redis-server (in-process; one run as a real command)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import subprocess
import sys
import time

from keys import OPERATOR, WRONG

from nautilus_riskwatch.firm.cli import build_parser, main
from nautilus_riskwatch.firm.link import FirmLink

NO_WAIT = ("--wait", "0")


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


def register(url):
    """What the first node with ``operator_key`` does when it joins."""

    async def go():
        link = FirmLink(url, "acme")
        try:
            await link.register_operator(OPERATOR.public)
        finally:
            await link.close()

    asyncio.run(go())


def test_kill_needs_no_key_and_the_second_kill_is_suppressed(redis_server, monkeypatch):
    monkeypatch.delenv("RISKWATCH_OPERATOR_KEY_FILE", raising=False)
    code, out = cli(redis_server.url, "kill", "--reason", "venue outage", "--who", "ops")
    assert code == 0 and out.startswith("firm acme TRIPPED (epoch 1) by ops: venue outage")
    code, out = cli(redis_server.url, "kill", "--reason", "again", "--who", "ops")
    assert code == 0 and "already tripped (epoch 1)" in out
    state = latch(redis_server.url)
    assert state.tripped and state.origin == "operator ops" and state.reason == "venue outage"


def test_kill_works_whatever_was_written_over_the_latch_and_the_stream(redis_server):
    async def corrupt():
        link = FirmLink(redis_server.url, "acme")
        try:
            await link.redis.set(link.keys.latch, "x")
            await link.redis.set(link.keys.events, "x")
        finally:
            await link.close()

    asyncio.run(corrupt())
    code, out = cli(redis_server.url, "kill", "--reason", "now", "--who", "ops")
    assert code == 0 and "TRIPPED (epoch 1)" in out, out
    state = latch(redis_server.url)
    assert state.tripped and state.origin == "operator ops" and state.reason == "now"
    code, out = cli(redis_server.url, "status")
    assert code == 0 and "corrupt-latch" in out  # the stream was started afresh, and says so


def test_rearm_is_refused_without_a_key_for_a_stale_epoch_and_when_not_tripped(
    redis_server, monkeypatch
):
    monkeypatch.delenv("RISKWATCH_OPERATOR_KEY_FILE", raising=False)
    register(redis_server.url)
    code, out = cli(redis_server.url, "rearm", "--epoch", "1", "--reason", "x")
    assert code == 1 and "no operator key" in out and "nothing was written" in out
    monkeypatch.setenv("RISKWATCH_OPERATOR_KEY_FILE", OPERATOR.file)
    code, out = cli(redis_server.url, "rearm", "--epoch", "1", "--reason", "x")
    assert code == 1 and "not tripped" in out
    cli(redis_server.url, "kill", "--reason", "one")
    cli(redis_server.url, "rearm", "--epoch", "1", "--reason", "ok", "--who", "risk", *NO_WAIT)
    cli(redis_server.url, "kill", "--reason", "two")
    code, out = cli(redis_server.url, "rearm", "--epoch", "1", "--reason", "replayed")
    assert code == 1 and "stale epoch 1: the latch is at epoch 2" in out
    assert latch(redis_server.url).tripped
    code, out = cli(
        redis_server.url, "rearm", "--epoch", "2", "--reason", "fixed", "--who", "risk", *NO_WAIT
    )
    assert code == 0 and "RE-ARMED (epoch 2)" in out and "no running node" in out
    state = latch(redis_server.url)
    assert state.state == "armed" and state.rearm_verified("acme", OPERATOR.verifier)


def test_a_key_that_is_not_the_firms_is_refused_before_anything_is_written(redis_server):
    register(redis_server.url)
    cli(redis_server.url, "kill", "--reason", "one")
    before = latch(redis_server.url)
    code, out = cli(
        redis_server.url, "rearm", "--epoch", "1", "--reason", "guess", "--key-file", WRONG.file
    )
    assert code == 1 and "RE-ARMED" not in out and "not the firm's operator key" in out
    assert latch(redis_server.url) == before  # the latch never moved
    code, out = cli(redis_server.url, "forget", "A", "--key-file", WRONG.file)
    assert code == 1 and "nothing was written" in out
    # and the operator's own key still re-arms that epoch
    code, out = cli(
        redis_server.url, "rearm", "--epoch", "1", "--reason", "ok", "--key-file", OPERATOR.file,
        *NO_WAIT,
    )  # fmt: skip
    assert code == 0, out


def test_enrol_and_forget_are_signed_with_the_operator_key(redis_server):
    from keys import pair

    from nautilus_riskwatch.firm.figures import Enrolment, forget_at

    node = pair("D")
    key = ("--key-file", OPERATOR.file)
    code, out = cli(redis_server.url, "enrol", "D", "--node-key", node.public, *key)
    assert code == 0 and "registered the firm's operator key" in out and "D enrolled" in out
    code, out = cli(redis_server.url, "forget", "D", *key)
    assert code == 0 and "node D forgotten" in out

    async def read():
        link = FirmLink(redis_server.url, "acme")
        try:
            return (
                await link.redis.hget(link.keys.enrolled, "D"),
                await link.redis.hget(link.keys.forgotten, "D"),
            )
        finally:
            await link.close()

    enrolled, forgotten = asyncio.run(read())
    enrolment = Enrolment.parse("D", enrolled)
    assert enrolment.key == node.public and enrolment.verified("acme", OPERATOR.verifier)
    assert not enrolment.verified("acme", WRONG.verifier)
    left = forget_at("acme", "D", forgotten, OPERATOR.verifier)
    assert left is not None and left >= enrolment.at_ms
    assert forget_at("acme", "D", forgotten, WRONG.verifier) is None


def test_keygen_writes_a_private_key_once_and_prints_the_public_key(tmp_path):
    from nautilus_riskwatch.firm.signing import load_private, public_hex

    path = tmp_path / "op.key"
    out = io.StringIO()
    assert main(["keygen", "--out", str(path)], out=out) == 0
    public = out.getvalue().split("public key: ")[1].strip()
    assert public_hex(load_private(str(path))) == public
    assert path.stat().st_mode & 0o777 == 0o600
    out = io.StringIO()
    assert main(["keygen", "--out", str(path)], out=out) == 1  # never overwrites a key
    assert "never overwritten" in out.getvalue()


def test_the_options_name_their_environment_variables():
    help_text = build_parser().format_help()
    assert "RISKWATCH_REDIS_URL" in help_text and "RISKWATCH_FIRM" in help_text
    rearm = build_parser()._subparsers._group_actions[0].choices["rearm"].format_help()
    assert "RISKWATCH_OPERATOR_KEY_FILE" in rearm


def test_without_the_firm_extra_the_cli_says_so_in_one_line(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "redis" else real(name, *a)
    )
    out = io.StringIO()
    assert main(["--url", "redis://h", "--firm", "acme", "status"], out=out) == 2
    assert out.getvalue() == (
        "riskwatch firm: install the [firm] extra: pip install 'nautilus-riskwatch[firm]' "
        "(missing: redis)\n"
    )


def test_status_is_a_readable_table_of_latch_nodes_and_events(redis_server):
    from keys import enrol
    from test_figures import figure

    async def beats():
        link = FirmLink(redis_server.url, "acme")
        try:
            await link.register_operator(OPERATOR.public)
            await enrol(link, "A")
            # info (the host) is not signed: it is for people
            await link.heartbeat(dataclasses.replace(figure("A", "-12.50"), info="host-a:1"))
            await link.heartbeat(figure("B", "3.25", ttl=0.05, signed=False))
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
    assert "-12.50 USD" in a and "ACTIVE" in a and "LOST" not in a and "enrolled" in a
    assert "host-a:1" in a
    assert "3.25 USD" in b and "LOST (ttl 0.05s)" in b and "enrolled" not in b
    assert "firm PnL (last figures as written): -9.25 USD" in out
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
