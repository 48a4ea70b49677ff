"""Warning levels: once per upward crossing, re-armed after the hysteresis, exact, and
nothing happens for a figure inside the band the levels give."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus_riskwatch.alerts import DEFAULT_HYSTERESIS, FeedSilence, Levels, warn_fractions

D = Decimal


def crossed(levels: Levels, *figures: str) -> list[list[str]]:
    return [[str(c.level) for c in levels.see(D(f))] for f in figures]


def test_one_warning_per_upward_crossing_rearmed_after_the_hysteresis():
    levels = Levels([D("0.5"), D("0.8")], D("1000"))
    assert DEFAULT_HYSTERESIS == D("0.1")
    got = crossed(levels, "100", "499.99", "500.00", "600", "450", "400.01", "500", "400")
    assert got == [[], [], ["500.0"], [], [], [], [], []]  # 500 not again until <= 400
    assert crossed(levels, "500", "799.999", "800", "1200", "701", "800", "700", "800") == [
        ["500.0"],
        [],
        ["800.0"],
        [],
        [],
        [],
        [],
        ["800.0"],
    ]


def test_a_jump_crosses_every_level_lowest_first_and_a_fall_rearms_them():
    levels = Levels(warn_fractions("warn_at", ["0.5", 0.8]), D("1000"))
    assert [c.fraction for c in levels.see(D("950"))] == [D("0.5"), D("0.8")]
    assert levels.fired == 2 and levels.see(D("-5000")) == () and levels.fired == 0
    (crossing,) = levels.see(D("500"))
    assert (crossing.figure, crossing.limit, crossing.level) == (D("500"), D("1000"), D("500.0"))


def test_the_band_is_where_nothing_can_happen():
    levels = Levels([D("0.5"), D("0.8")], D("1000"))
    assert (levels.band().low, levels.band().high) == (None, D("500.0"))
    levels.see(D("600"))
    assert (levels.band().low, levels.band().high) == (D("400.0"), D("800.0"))
    levels.see(D("900"))
    assert (levels.band().low, levels.band().high) == (D("700.0"), None)


def test_a_new_limit_moves_the_levels():
    levels = Levels([D("0.5")], D("1000"))
    levels.see(D("600"))
    levels.relimit(D("2000"))  # 600 is now below the re-arm point 800
    assert levels.see(D("600")) == () and levels.fired == 0
    assert [c.level for c in levels.see(D("1000"))] == [D("1000.0")]


def test_bad_levels_and_figures_are_refused_with_the_field_named():
    for bad in (["0"], ["1"], ["1.5"], ["0.8", "0.5"], ["0.5", "0.5"], ["x"], [True], ["NaN"]):
        with pytest.raises(ValueError, match="warn_at"):
            warn_fractions("warn_at", bad)
    with pytest.raises(ValueError, match="warn_at"):
        warn_fractions("warn_at", "0.5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hysteresis"):
        Levels([D("0.5")], D("1000"), hysteresis=D("0"))
    with pytest.raises(ValueError, match="limit"):
        Levels([D("0.5")], D("-1"))
    with pytest.raises(ValueError, match="figure"):
        Levels([D("0.5")], D("1000")).see(600.0)  # type: ignore[arg-type]
    assert warn_fractions("warn_at", [0.1, 0.2]) == (D("0.1"), D("0.2"))  # as written


def model(fractions, limit, hysteresis, figures):
    """Each level on its own: fires at >= level while armed, re-arms at <= level - h."""
    armed = [True] * len(fractions)
    out = []
    for figure in figures:
        fired = []
        for i, f in enumerate(fractions):
            level = f * limit
            if armed[i] and figure >= level:
                armed[i] = False
                fired.append(level)
            elif not armed[i] and figure <= level - hysteresis * limit:
                armed[i] = True
        out.append(fired)
    return out


amounts = st.decimals(min_value=-3000, max_value=3000, places=2, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    fractions=st.lists(
        st.decimals(min_value="0.01", max_value="0.99", places=2), min_size=1, max_size=4
    ).map(lambda xs: sorted(set(xs))),
    limit=st.decimals(min_value="0.01", max_value=2000, places=2),
    hysteresis=st.sampled_from([D("0.1"), D("0.05"), D("0.3"), D("0.9")]),
    figures=st.lists(amounts, max_size=60),
)
def test_levels_match_the_model_and_the_band_holds(fractions, limit, hysteresis, figures):
    levels = Levels(fractions, limit, hysteresis)
    expected = model(fractions, limit, hysteresis, figures)
    for figure, want in zip(figures, expected, strict=True):
        band = levels.band()
        before = levels.fired
        got = [c.level for c in levels.see(figure)]
        assert got == want
        inside = (band.low is None or figure > band.low) and (
            band.high is None or figure < band.high
        )
        if inside:
            assert got == [] and levels.fired == before


def test_a_feed_silence_warns_once_per_silence_at_exact_times():
    silence = FeedSilence([D("0.5"), D("0.8")], bound=90.0)
    assert silence.due(last=10.0) == 55.0  # 10 + 0.5 * 90
    assert silence.check(now=54.999999, last=10.0) == ()
    (half,) = silence.check(now=55.0, last=10.0)
    assert (half.fraction, half.figure, half.limit) == (D("0.5"), D("45.0"), D("90"))
    assert silence.due(last=10.0) == 82.0
    assert silence.check(now=60.0, last=10.0) == ()  # no second warning for 0.5
    assert [c.fraction for c in silence.check(now=82.0, last=10.0)] == [D("0.8")]
    assert silence.due(last=10.0) is None  # every level said in this silence
    # a message at 83 ends the silence: every level re-arms, timed from it
    assert silence.due(last=83.0) == 128.0
    assert [c.fraction for c in silence.check(now=200.0, last=83.0)] == [D("0.5"), D("0.8")]


def test_a_feed_silence_due_time_is_never_before_the_level():
    bound, last = 0.1, 12345.678901  # 0.03 s after an awkward float
    silence = FeedSilence([D("0.3")], bound=bound)
    due = silence.due(last)
    with localcontext(prec=2000):
        assert due is not None and Decimal(due) >= Decimal(last) + D("0.3") * Decimal(bound)
    assert len(silence.check(due, last)) == 1  # checking at due fires: no busy loop
    with pytest.raises(ValueError, match="bound"):
        FeedSilence([D("0.5")], bound=0)
    with pytest.raises(ValueError, match="feed_warn_at"):
        FeedSilence([D("1.5")], bound=1.0)


@settings(max_examples=200, deadline=None)
@given(
    offset=st.decimals(min_value=-500, max_value=500, places=2),
    figures=st.lists(amounts, min_size=1, max_size=30),
)
def test_the_pnl_band_is_the_band_seen_from_the_pnl(offset, figures):
    levels = Levels([D("0.5"), D("0.8")], D("1000"))
    for figure in figures:
        levels.see(figure)
        band, pnl_band = levels.band(), levels.pnl_band(offset)
        for pnl in (offset - figure, offset - figure + D("0.01"), offset - figure - D("0.01")):
            in_pnl = (pnl_band.low is None or pnl > pnl_band.low) and (
                pnl_band.high is None or pnl < pnl_band.high
            )
            loss = offset - pnl
            in_band = (band.low is None or loss > band.low) and (
                band.high is None or loss < band.high
            )
            assert in_pnl == in_band
