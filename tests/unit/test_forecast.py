"""Demand forecast: method chosen by backtest, no silent zero forecasts, gaps."""
from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal as D

import pytest

from app.domain.errors import ValidationFailed
from app.domain.forecast import (
    NoForecast,
    fill_gaps,
    forecast,
    mase,
    rmsse,
)

MONDAY = dt.date(2024, 1, 1)


def week(n: int) -> dt.date:
    return MONDAY + dt.timedelta(weeks=n)


def seasonal_series(weeks: int, seed: int = 5) -> list[tuple[dt.date, D]]:
    """Yearly season (amplitude 40 around 100), a slow trend, noise; whole units."""
    rng = random.Random(seed)
    return [(week(t), D(int(100 + 40 * math.sin(2 * math.pi * t / 52) + 0.2 * t
                            + rng.gauss(0, 5))))
            for t in range(weeks)]


def test_chosen_method_beats_naive_on_a_seasonal_holdout():
    series = seasonal_series(3 * 52 + 8)
    train, holdout = series[:-8], series[-8:]
    result = forecast(train, product="SYR-0003", warehouse="GZ01", horizon=8)

    assert result.ok and result.method in ("holt_winters", "seasonal_naive")
    assert [p.period_start for p in result.points] == [d for d, _ in holdout]
    history = [float(q) for _, q in train]
    actual = [float(q) for _, q in holdout]
    chosen = mase(history, actual, [float(p.quantity) for p in result.points])
    naive = mase(history, actual, [history[-1]] * len(actual))
    assert chosen < naive / 2
    predicted = [float(p.quantity) for p in result.points]
    assert rmsse(history, actual, predicted) < rmsse(history, actual, [history[-1]] * 8)


def test_errors_table_has_mape_and_mase_per_method_and_the_winner_first():
    result = forecast(seasonal_series(3 * 52), product="SYR-0003", warehouse="GZ01")
    methods = [s.method for s in result.errors]
    assert sorted(methods) == sorted(
        ["naive", "seasonal_naive", "moving_average", "ses", "holt_winters"])
    assert methods[0] == result.method
    assert all(None not in (s.mae, s.mape, s.mase, s.rmsse) for s in result.errors)
    assert result.errors[0].rmsse == min(s.rmsse for s in result.errors)
    assert result.score("naive").mase > result.errors[0].mase
    assert "chosen by backtest over 8 origins" in result.message["en"]
    assert "回测选择" in result.message["zh"]
    # Parameters were chosen too, not fixed.
    assert set(result.score("ses").parameters) == {"alpha"}
    assert set(result.score("moving_average").parameters) == {"window"}


def test_no_history_says_so_and_never_forecasts_zero():
    result = forecast([], product="SYR-0003", warehouse="GZ01")
    assert not result.ok and result.status == "no_history"
    assert result.points == () and result.method is None
    assert result.message == {
        "en": "no shipment history for SYR-0003 at GZ01: no forecast",
        "zh": "GZ01 的 SYR-0003：没有出库历史，无法预测"}
    with pytest.raises(NoForecast) as e:
        result.require()
    assert e.value.message == result.message["en"] and e.value.zh == result.message["zh"]


def test_all_zero_and_too_short_histories_say_so():
    zeros = forecast([(week(t), D(0)) for t in range(20)], product="P", warehouse="W")
    assert zeros.status == "all_zero" and zeros.points == ()
    assert zeros.message["en"] == "no shipments in 20 weeks of history for P at W: no forecast"
    short = forecast([(week(0), D(5)), (week(1), D(7))], product="P", warehouse="W")
    assert short.status == "too_short" and short.points == ()
    assert "only 2 weeks of history (needs 4)" in short.message["en"]
    assert forecast([(week(t), D(5)) for t in range(4)]).ok


def test_gaps_are_zero_demand():
    # 10 units every other week; the weeks between have no entry at all.
    history = [(week(t), D(10)) for t in range(0, 40, 2)]
    result = forecast(history, season_length=0, horizon=4)
    assert len(result.history) == 39
    assert [p.quantity for p in result.history[:4]] == [D(10), D(0), D(10), D(0)]
    # Read as 10 a week (gaps dropped) it would forecast 10; with the zeros, 5.
    assert [p.quantity for p in result.points] == [D("5.00")] * 4
    assert result.method == "moving_average" and result.parameters == {"window": 2}


def test_intermittent_demand_is_forecast_at_its_mean_not_at_zero():
    # 9 units every third week: least absolute error would say 0; the mean is 3.
    history = [(week(t), D(9) if t % 3 == 0 else D(0)) for t in range(60)]
    result = forecast(history, season_length=0, horizon=3)
    assert result.method == "moving_average" and result.parameters == {"window": 3}
    assert [p.quantity for p in result.points] == [D("3.00")] * 3


def test_dates_fall_into_their_period_and_end_extends_with_zeros():
    points = fill_gaps([(dt.date(2024, 1, 3), D(4)), (dt.date(2024, 1, 5), D(6)),
                        (dt.date(2024, 1, 17), D(1))], "week", end=dt.date(2024, 1, 31))
    assert [(p.period_start, p.quantity) for p in points] == [
        (dt.date(2024, 1, 1), D(10)), (dt.date(2024, 1, 8), D(0)),
        (dt.date(2024, 1, 15), D(1)), (dt.date(2024, 1, 22), D(0)),
        (dt.date(2024, 1, 29), D(0))]


def test_monthly_series_with_a_twelve_month_season():
    rng = random.Random(2)
    history = []
    for t in range(48):
        month = dt.date(2021 + t // 12, t % 12 + 1, 15)
        history.append((month, D(int(50 + (30 if t % 12 in (10, 11) else 0) + rng.gauss(0, 2)))))
    result = forecast(history, period="month", horizon=3)
    assert result.ok and result.season_length == 12
    assert [p.period_start for p in result.points] == [
        dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)]
    assert all(isinstance(p.quantity, D) and p.quantity >= 0 for p in result.points)


def test_holt_winters_needs_two_seasons_and_says_so():
    result = forecast(seasonal_series(60))
    hw = result.score("holt_winters")
    assert hw.mae is None and "needs two seasons (104 periods)" in hw.note
    assert result.method != "holt_winters"


def test_inputs_are_checked():
    with pytest.raises(ValidationFailed, match="exact Decimal"):
        forecast([(week(0), 1.5)])
    with pytest.raises(ValidationFailed, match=">= 0"):
        forecast([(week(0), D(-1))])
    with pytest.raises(ValidationFailed, match="unknown period"):
        forecast([(week(0), D(1))], period="quarter")
