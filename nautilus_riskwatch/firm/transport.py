"""``Transport``: how a node or the operator reaches the firm's Redis (TLS, Sentinel).

The latch is only as trustworthy as the connection to it, so the ways of connecting are
checked once, with errors that name the field, and built in one place for the node's
asyncio client, its synchronous start check and the operator's command line:

- **TLS**: a ``rediss://`` URL; ``tls_ca_file`` is the CA the server's certificate must
  chain to (else the system's), the host name is always checked, and ``tls_cert_file`` +
  ``tls_key_file`` are the client certificate for a server that requires one
  (``tls-auth-clients yes``).
- **Sentinel**: ``sentinels`` (``host:port`` each) and ``sentinel_service`` (the name the
  sentinels monitor). The client asks the sentinels where the primary is, and asks again
  after a connection fails, so every node follows a failover. The URL then gives only the
  scheme (``rediss://``: TLS to the primary and to the sentinels, with the same files),
  the user, the password and the database; its host and port are not used.

Nothing here retries: redis-py's own retries are off (``Retry(NoBackoff(), 0)``, the
asyncio one for the asyncio client), the member and the CLI decide.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from nautilus_riskwatch.core.redact import redact_url
from nautilus_riskwatch.errors import RiskWatchError

SCHEMES = ("redis://", "rediss://", "unix://")


class TransportError(RiskWatchError, ValueError):
    """A transport setting that cannot work, with the field named."""

    def __init__(self, field: str, value: object, why: str) -> None:
        super().__init__(f"{field}={value!r}: {why}")
        self.field = field
        self.value = value
        self.why = why


@dataclass(frozen=True)
class Transport:
    """TLS files and Sentinel addresses (the URL and password travel beside it)."""

    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    sentinels: tuple[tuple[str, int], ...] = ()
    sentinel_service: str | None = None
    sentinel_password_env: str | None = None  # the sentinels' own password, if they have one

    def describe(self, url: str) -> str:
        """For logs and status lines: where this goes, never a password."""
        if not self.sentinels:
            return redact_url(url)
        where = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        scheme = url.split("://", 1)[0]
        return f"{scheme}+sentinel://{where}/{self.sentinel_service}"


def check_transport(
    url: str,
    *,
    tls_ca_file: str | None = None,
    tls_cert_file: str | None = None,
    tls_key_file: str | None = None,
    sentinels: tuple[str, ...] | list[str] | None = None,
    sentinel_service: str | None = None,
    sentinel_password_env: str | None = None,
) -> Transport:
    """The checked transport; raises ``TransportError`` naming the field at fault.

    Files are checked to exist and be readable now, so a typo fails at configuration time
    rather than as an opaque TLS error at the first connect.
    """
    if not isinstance(url, str) or not url.startswith(SCHEMES):
        raise TransportError("url", redact_url(str(url)), "expected redis://, rediss:// or unix://")
    tls = url.startswith("rediss://")
    for field, path in (
        ("tls_ca_file", tls_ca_file),
        ("tls_cert_file", tls_cert_file),
        ("tls_key_file", tls_key_file),
    ):
        if path is None:
            continue
        if not isinstance(path, str) or not path.strip():
            raise TransportError(field, path, "expected the path of a PEM file")
        if not tls:
            raise TransportError(field, path, "TLS files need a rediss:// url")
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            raise TransportError(field, path, "no such readable file")
    if (tls_cert_file is None) != (tls_key_file is None):
        field = "tls_key_file" if tls_key_file is None else "tls_cert_file"
        raise TransportError(
            field, None, "a client certificate needs both tls_cert_file and tls_key_file"
        )
    addresses: list[tuple[str, int]] = []
    if sentinels is not None:
        if isinstance(sentinels, str) or not isinstance(sentinels, list | tuple):
            raise TransportError("sentinels", sentinels, "expected a list of 'host:port'")
        if not sentinels:
            raise TransportError("sentinels", sentinels, "empty: name one or more 'host:port'")
        for i, item in enumerate(sentinels):
            addresses.append(_address(f"sentinels[{i}]", item))
        if url.startswith("unix://"):
            raise TransportError("url", redact_url(url), "with sentinels use redis:// or rediss://")
        if not isinstance(sentinel_service, str) or not sentinel_service.strip():
            raise TransportError(
                "sentinel_service", sentinel_service, "the name the sentinels monitor is needed"
            )
    elif sentinel_service is not None:
        raise TransportError("sentinel_service", sentinel_service, "needs sentinels")
    if sentinel_password_env is not None:
        if not addresses:
            raise TransportError("sentinel_password_env", sentinel_password_env, "needs sentinels")
        if not isinstance(sentinel_password_env, str) or not sentinel_password_env.strip():
            raise TransportError(
                "sentinel_password_env", sentinel_password_env, "expected a variable name"
            )
    return Transport(
        tls_ca_file=tls_ca_file,
        tls_cert_file=tls_cert_file,
        tls_key_file=tls_key_file,
        sentinels=tuple(addresses),
        sentinel_service=sentinel_service if addresses else None,
        sentinel_password_env=sentinel_password_env,
    )


def _address(field: str, item: object) -> tuple[str, int]:
    if not isinstance(item, str):
        raise TransportError(field, item, "expected 'host:port'")
    host, sep, port = item.strip().rpartition(":")
    host = host.strip("[]")  # [::1]:26379
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TransportError(field, item, "expected 'host:port' with a port from 1 to 65535")
    return host, int(port)


def client_options(
    timeout: float, password: str | None = None, *, sync: bool = False
) -> dict[str, Any]:
    """redis-py options: bounded socket waits and no silent retries (we retry ourselves).

    The ``Retry`` must match the client: the asyncio client warns (redis-py 8) when it
    is given the synchronous one."""
    from redis.backoff import NoBackoff

    if sync:
        from redis.retry import Retry
    else:
        from redis.asyncio.retry import Retry  # type: ignore[assignment]

    extra = {} if password is None else {"password": password}
    return {
        **extra,
        "decode_responses": True,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
    }


def _tls_options(transport: Transport) -> dict[str, Any]:
    options: dict[str, Any] = {"ssl_cert_reqs": "required", "ssl_check_hostname": True}
    if transport.tls_ca_file:
        options["ssl_ca_certs"] = transport.tls_ca_file
    if transport.tls_cert_file:
        options["ssl_certfile"] = transport.tls_cert_file
        options["ssl_keyfile"] = transport.tls_key_file
    return options


def connect(
    url: str,
    timeout: float,
    password: str | None = None,
    transport: Transport | None = None,
    *,
    sync: bool = False,
) -> Any:
    """A redis-py client (``redis.asyncio.Redis``, or ``redis.Redis`` with ``sync``)."""
    transport = transport or Transport()
    options = client_options(timeout, password, sync=sync)
    tls = url.startswith("rediss://")
    if tls:
        options.update(_tls_options(transport))
    if sync:
        from redis import Redis
        from redis.sentinel import Sentinel
    else:
        from redis.asyncio import Redis  # type: ignore[assignment]
        from redis.asyncio.sentinel import Sentinel  # type: ignore[assignment]
    if not transport.sentinels:
        return Redis.from_url(url, **options)
    parts = urlsplit(url)
    db = parts.path.strip("/") or "0"
    if not db.isdigit():
        raise TransportError("url", url, "the database must be a number")
    primary: dict[str, Any] = {**options, "db": int(db)}
    if parts.username:
        primary["username"] = unquote(parts.username)
    if parts.password and password is None:
        primary["password"] = unquote(parts.password)
    sentinel_options: dict[str, Any] = {
        key: value for key, value in options.items() if key != "password"
    }
    if transport.sentinel_password_env:
        sentinel_password = os.environ.get(transport.sentinel_password_env)
        if sentinel_password:
            sentinel_options["password"] = sentinel_password
    if tls:
        primary["ssl"] = sentinel_options["ssl"] = True
    manager = Sentinel(list(transport.sentinels), sentinel_kwargs=sentinel_options, **primary)
    assert transport.sentinel_service is not None
    return manager.master_for(transport.sentinel_service, redis_class=Redis)


def add_transport_arguments(parser: Any) -> None:
    """The operator CLI's TLS and Sentinel flags (the node's ``firm`` fields, by name)."""
    group = parser.add_argument_group("TLS and Sentinel (as the nodes' firm section)")
    group.add_argument("--tls-ca-file", help="CA (PEM) the server's certificate must chain to")
    group.add_argument("--tls-cert-file", help="client certificate (PEM), with --tls-key-file")
    group.add_argument("--tls-key-file", help="client key (PEM)")
    group.add_argument(
        "--sentinel",
        action="append",
        metavar="HOST:PORT",
        dest="sentinels",
        help="a Redis Sentinel (repeat for each); with --sentinel-service",
    )
    group.add_argument("--sentinel-service", help="the name the sentinels monitor")
    group.add_argument(
        "--sentinel-password-env", help="environment variable with the sentinels' password"
    )


def transport_from_arguments(args: Any) -> Transport:
    """The checked transport from ``add_transport_arguments``'s flags (``TransportError``)."""
    return check_transport(
        args.url,
        tls_ca_file=args.tls_ca_file,
        tls_cert_file=args.tls_cert_file,
        tls_key_file=args.tls_key_file,
        sentinels=args.sentinels,
        sentinel_service=args.sentinel_service,
        sentinel_password_env=args.sentinel_password_env,
    )
