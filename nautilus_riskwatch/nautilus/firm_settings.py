"""The ``firm`` section of the config, checked into the firm package's ``FirmSettings``.

Apart from ``settings.py`` because it reads the firm package's own words (its policies, its
name and key checks, its TLS and Sentinel transport): what the firm accepts is the firm's
to say, and this module only names the field a refusal is about.
"""

from __future__ import annotations

from nautilus_riskwatch.errors import RiskWatchConfigError
from nautilus_riskwatch.firm.link import check_firm_name
from nautilus_riskwatch.firm.settings import (
    HEARTBEAT_POLICIES,
    LINK_LOST_POLICIES,
    START_POLICIES,
    FirmSettings,
)
from nautilus_riskwatch.firm.signing import FirmKeyError, check_key_text
from nautilus_riskwatch.firm.transport import Transport, TransportError, check_transport
from nautilus_riskwatch.nautilus import parse
from nautilus_riskwatch.nautilus.config_entries import FirmConfig


def firm_settings(raw: object, currency: str | None, portfolio_limit: bool) -> FirmSettings:
    """Check the firm section (``currency``: the node's loss limits'; ``portfolio_limit``:
    whether the node has a portfolio-wide one); the node's private key is read at start,
    never kept here."""
    firm = parse.struct("firm", raw, FirmConfig)
    url = parse.text_of("firm.url", firm.url)
    transport = _transport(url, firm)
    try:
        name = check_firm_name(parse.text_of("firm.name", firm.name))
    except ValueError as error:
        raise RiskWatchConfigError("firm.name", firm.name, str(error)) from None
    heartbeat = parse.seconds("firm.heartbeat", firm.heartbeat)
    ttl = (
        4 * heartbeat
        if firm.heartbeat_ttl is None
        else parse.seconds("firm.ttl", firm.heartbeat_ttl)
    )
    if ttl <= heartbeat:
        raise RiskWatchConfigError("firm.heartbeat_ttl", ttl, "must be longer than a heartbeat")
    ceiling, firm_currency, firm_percent = parse.money("firm.max_loss", firm.max_loss)
    if firm_percent is not None:
        raise RiskWatchConfigError(
            "firm.max_loss",
            firm.max_loss,
            "the firm ceiling is an amount (e.g. '50000 USD'): nodes' equities are not summed",
        )
    if ceiling is not None:
        if not portfolio_limit:
            raise RiskWatchConfigError(
                "firm.max_loss",
                firm.max_loss,
                "needs this node's own portfolio-wide loss limit (max_loss) in the same "
                "currency: the node reports the exact PnL its ledger keeps",
            )
        if firm_currency != currency:
            raise RiskWatchConfigError(
                "firm.max_loss", firm.max_loss, f"the node's loss limits are in {currency}"
            )
    if firm.node is not None:
        parse.text_of("firm.node", firm.node)
    operator_key = ""
    if firm.operator_key is not None:
        operator_key = parse.text_of("firm.operator_key", firm.operator_key).strip()
        try:
            operator_key = check_key_text(operator_key)
        except FirmKeyError as error:
            raise RiskWatchConfigError("firm.operator_key", firm.operator_key, str(error)) from None
    if firm.key_file is not None:
        parse.text_of("firm.key_file", firm.key_file)
    if firm.epoch_file is not None:
        parse.text_of("firm.epoch_file", firm.epoch_file)
    return FirmSettings(
        url=url,
        firm=name,
        node=firm.node or "",
        heartbeat=heartbeat,
        heartbeat_ttl=ttl,
        max_loss=ceiling,
        currency=firm_currency or currency or "",
        on_heartbeat_lost=parse.one_of(
            "firm.on_heartbeat_lost", firm.on_heartbeat_lost, HEARTBEAT_POLICIES
        ),
        on_link_lost=parse.one_of("firm.on_link_lost", firm.on_link_lost, LINK_LOST_POLICIES),
        link_lost_after=parse.seconds("firm.link_lost_after", firm.link_lost_after),
        on_unreachable_at_start=parse.one_of(
            "firm.on_unreachable_at_start", firm.on_unreachable_at_start, START_POLICIES
        ),
        timeout=parse.seconds("firm.timeout", firm.timeout),
        operator_key=operator_key,
        key_file=firm.key_file,
        epoch_file=firm.epoch_file,
        password_env=None
        if firm.password_env is None
        else parse.text_of("firm.password_env", firm.password_env),
        transport=transport,
    )


def _transport(url: str, firm: FirmConfig) -> Transport:
    """The firm's TLS and Sentinel settings, checked (files must exist now)."""
    try:
        return check_transport(
            url,
            tls_ca_file=firm.tls_ca_file,
            tls_cert_file=firm.tls_cert_file,
            tls_key_file=firm.tls_key_file,
            sentinels=None if firm.sentinels is None else list(firm.sentinels),
            sentinel_service=firm.sentinel_service,
            sentinel_password_env=firm.sentinel_password_env,
        )
    except TransportError as error:
        raise RiskWatchConfigError(f"firm.{error.field}", error.value, error.why) from None
