"""``redact_url``: the one way a URL is shown in a log line, a record or a ``repr``.

Why one function: a Redis URL carries its secret in the password (``redis://u:pw@h/0``),
an alert URL often in the host or the path (Apprise's ``tgram://BOT_TOKEN/CHAT``,
``slack://T/B/TOKEN``, ``json://host/hooks/SECRET``). A rule per caller drifts; one rule
that shows only what cannot be a secret does not.

What is shown: the scheme always; for the schemes that name a network host
(``NETWORK_SCHEMES``) the user name, the host and the port; a Redis database number or
socket path. Everything else (a password, the whole address part of any other scheme, each
path segment, each query value, a fragment) becomes ``***``. The operator still sees which
service and which host an alert or a link went to, and never the token.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit, urlunsplit

__all__ = ["NETWORK_SCHEMES", "redact_url"]

#: Schemes whose address part is ``[user[:password]@]host[:port]`` (the host is shown);
#: any other scheme (Apprise's ``tgram``, ``slack``, ``discord``, ``pagerduty``, ...) may
#: keep a token there, so its whole address part is hidden.
NETWORK_SCHEMES = frozenset(
    {
        "redis",
        "rediss",
        "unix",
        "http",
        "https",
        "json",
        "jsons",
        "xml",
        "xmls",
        "form",
        "forms",
        "mailto",
        "mailtos",
        "ntfy",
        "ntfys",
        "gotify",
        "gotifys",
        "mmost",
        "mmosts",
        "mqtt",
        "mqtts",
        "apprise",
        "apprises",
    }
)
#: Schemes whose path is no secret (a Redis database number, a socket's path).
_PATH_SHOWN = frozenset({"redis", "rediss", "unix"})
_HIDDEN = "***"


def redact_url(url: str) -> str:
    """``url`` with everything that may be a secret replaced by ``***`` (see the module)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        scheme, sep, _ = url.partition("://")
        return f"{scheme}://{_HIDDEN}" if sep and scheme.isalnum() else "<unparsable url>"
    scheme = parts.scheme.lower()
    if not parts.netloc and not parts.path:
        return url
    if scheme in NETWORK_SCHEMES:
        netloc = parts.hostname or ""
        if ":" in netloc:  # an IPv6 literal
            netloc = f"[{netloc}]"
        if port is not None:
            netloc = f"{netloc}:{port}"
        if parts.username is not None or parts.password is not None:
            secret = "" if parts.password is None else f":{_HIDDEN}"
            netloc = f"{parts.username or ''}{secret}@{netloc}"
    else:
        netloc = _HIDDEN if parts.netloc else ""
    path = parts.path
    if scheme not in _PATH_SHOWN:
        path = "/".join(segment and _HIDDEN for segment in path.split("/"))
    query = "&".join(
        f"{key}={_HIDDEN}" for key, _ in parse_qsl(parts.query, keep_blank_values=True)
    )
    fragment = _HIDDEN if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, path, query, fragment))
