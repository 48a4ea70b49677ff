"""The runaway guards' config fields: at the top level and in a scoped limit entry, read
into the settings, refused at build with the field named (a Python config and an importable
one alike), and checked against the engine at start."""

from __future__ import annotations

from decimal import Decimal

import pytest
from nautilus_trader.common.config import ActorFactory
from nautilus_trader.config import ImportableActorConfig
from nautilus_trader.model.identifiers import InstrumentId, StrategyId

from nautilus_riskwatch import RiskWatchConfig, RiskWatchConfigError
from nautilus_riskwatch.core.rates import EventRate
from nautilus_riskwatch.demo import build_engine
from nautilus_riskwatch.nautilus.settings import settings_from

EURUSD = "EUR/USD.SIM"
SECOND = 1_000_000_000


def test_every_runaway_field_is_read_at_the_top_level_and_in_a_scoped_entry():
    settings = settings_from(
        RiskWatchConfig(
            max_order_rate="10/00:00:30",
            max_reject_rate="3/00:00:01.5",
            max_fill_rate="100/01:00:00",
            max_position={EURUSD: 500_000, "GBP/USD.SIM": "0.5"},
            max_gross_exposure="600000 USD",
            limits=[
                {"strategy_id": "DemoTrader-001", "max_fill_rate": "5/00:00:10"},
                {"instrument_id": EURUSD, "max_loss": "100 USD", "max_gross_exposure": "50%"},
            ],
        )
    )
    top, strategy, instrument = settings.runaway
    assert top.scope == "portfolio" and top.index == -1
    assert dict(top.spec.rates) == {
        "orders": EventRate(10, 30 * SECOND),
        "rejects": EventRate(3, 3 * SECOND // 2),
        "fills": EventRate(100, 3600 * SECOND),
    }
    assert dict(top.spec.positions) == {
        InstrumentId.from_str(EURUSD): Decimal(500_000),
        InstrumentId.from_str("GBP/USD.SIM"): Decimal("0.5"),
    }
    assert (top.spec.gross.amount, top.spec.gross.currency) == (Decimal(600_000), "USD")
    assert strategy.strategy_id == StrategyId("DemoTrader-001") and strategy.index == 0
    assert dict(strategy.spec.rates) == {"fills": EventRate(5, 10 * SECOND)}
    assert instrument.scope == f"instrument {EURUSD}"
    assert (instrument.spec.gross.percent, instrument.spec.gross.currency) == (Decimal(50), "USD")
    assert settings.currency == "USD"  # the gross cap's currency is the ceiling's


def test_a_runaway_guard_alone_is_something_to_watch():
    settings = settings_from(RiskWatchConfig(max_order_rate="1/00:00:01"))
    assert settings.limits == () and settings.feeds == () and len(settings.runaway) == 1
    with pytest.raises(RiskWatchConfigError, match="nothing to watch"):
        RiskWatchConfig()


BAD = [
    ({"max_order_rate": "10/0:30"}, "max_order_rate", "10/0:30"),
    ({"max_reject_rate": "0/00:00:01"}, "max_reject_rate", "0/00:00:01"),
    ({"max_fill_rate": "5/00:00:00"}, "max_fill_rate", "5/00:00:00"),
    ({"max_fill_rate": 5}, "max_fill_rate", 5),
    ({"max_position": {EURUSD: 0.5}}, "max_position", {EURUSD: 0.5}),
    ({"max_position": {EURUSD: -1}}, "max_position", {EURUSD: -1}),
    ({"max_position": {"EURUSD": 1}}, "max_position", {"EURUSD": 1}),
    ({"max_position": {}}, "max_position", {}),
    ({"max_gross_exposure": "600000"}, "max_gross_exposure", "600000"),
    ({"max_gross_exposure": "1000%"}, "max_gross_exposure", "1000%"),
    (
        {"max_loss": "5 USD", "max_gross_exposure": "600000 EUR"},
        "limits",
        ["EUR", "USD"],
    ),
    (
        {"limits": [{"strategy_id": "S-001", "max_order_rate": "x"}]},
        "limits[0].max_order_rate",
        "x",
    ),
    (
        {"limits": [{"instrument_id": EURUSD, "max_position": {EURUSD: "lots"}}]},
        "limits[0].max_position",
        {EURUSD: "lots"},
    ),
    (
        {
            "limits": [
                {"strategy_id": "S-001", "max_order_rate": "1/00:00:01"},
                {"strategy_id": "S-001", "max_fill_rate": "1/00:00:01"},
            ]
        },
        "limits[1]",
        "strategy S-001",
    ),
]


@pytest.mark.parametrize(("config", "field", "value"), BAD, ids=[b[1] for b in BAD])
def test_a_bad_runaway_field_is_refused_when_built_naming_field_and_value(config, field, value):
    with pytest.raises(RiskWatchConfigError) as caught:
        RiskWatchConfig(**{"max_loss": "5000 USD", **config})
    assert caught.value.field == field
    assert caught.value.value == value


def test_a_bad_runaway_field_is_refused_from_an_importable_config():
    importable = ImportableActorConfig(
        actor_path="nautilus_riskwatch:RiskWatch",
        config_path="nautilus_riskwatch:RiskWatchConfig",
        config={"max_loss": "5000 USD", "limits": [{"max_fill_rate": "5 a second"}]},
    )
    with pytest.raises(RiskWatchConfigError) as caught:
        ActorFactory.create(importable)
    assert "limits[0].max_fill_rate='5 a second'" in str(caught.value)


def test_a_good_importable_config_carries_every_runaway_field():
    actor = ActorFactory.create(
        ImportableActorConfig(
            actor_path="nautilus_riskwatch:RiskWatch",
            config_path="nautilus_riskwatch:RiskWatchConfig",
            config={
                "max_order_rate": "10/00:00:30",
                "max_position": {EURUSD: 500000},
                "limits": [{"strategy_id": "DemoTrader-001", "max_gross_exposure": "1000 USD"}],
            },
        )
    )
    top, scoped = settings_from(actor.config).runaway
    assert dict(top.spec.positions) == {InstrumentId.from_str(EURUSD): Decimal(500_000)}
    assert scoped.spec.gross.amount == Decimal(1000)


@pytest.mark.parametrize(
    ("config", "field", "value"),
    [
        ({"max_position": {"GBP/USD.SIM": 1}}, "max_position", "GBP/USD.SIM"),
        (
            {"limits": [{"strategy_id": "DemoTrader-01", "max_order_rate": "1/00:00:01"}]},
            "limits[0].strategy_id",
            "DemoTrader-01",
        ),
        (
            {"limits": [{"instrument_id": EURUSD, "max_position": {"EUR/USD.SIMX": 1}}]},
            "limits[0].max_position",
            "EUR/USD.SIMX",
        ),
    ],
    ids=["position cap instrument", "scoped strategy typo", "scoped position cap instrument"],
)
def test_what_only_the_engine_knows_is_refused_at_start(config, field, value):
    run = build_engine(RiskWatchConfig(max_loss="5000 USD", **config))
    with pytest.raises(RiskWatchConfigError) as caught:
        run.engine.run()
    assert caught.value.field == field
    assert f"{field}={value!r}" in str(caught.value)
    assert run.engine.cache.orders() == []  # nothing traded unguarded
