"""Demand forecast for one product at one warehouse, method chosen per series.

Input: ``(period_start, quantity)`` pairs of past demand (shipments). Each
date is put in its period (``week``: the Monday of its ISO week, ``month``:
the first of the month, ``day``: itself), quantities in one period are added,
and periods with no entry between the first one and ``end`` (default: the
last one given) count as zero demand.

Methods (each with its parameter chosen by backtest):

- ``naive``: the last value.
- ``moving_average``: mean of the last ``window`` periods.
- ``ses``: simple exponential smoothing with ``alpha``.
- ``seasonal_naive``: the value one season earlier (needs one full season).
- ``holt_winters``: additive Holt-Winters (level, optional trend, season) with
  ``alpha``, ``beta`` (None: no trend), ``gamma`` (needs two full seasons).

Backtest: rolling origin. At each of the last ``folds`` origins the method is
fitted on the history before the origin and forecasts ``h`` periods ahead
(``h`` = the horizon, shortened for short series); all forecasts are compared
with what happened. Errors per method (its best parameter):

- ``mae``: mean absolute error over all backtest forecasts;
- ``mape``: mean of |error| / actual over backtest periods with non-zero
  demand, in percent (None when every actual was zero);
- ``mase``: ``mae`` divided by the mean absolute one-period change of the
  history before the first origin (the in-sample error of the naive
  forecast, Hyndman & Koehler 2006); below 1 beats naive one-step. None when
  that history never changes;
- ``rmsse``: root mean squared error scaled the same way (squared changes),
  the measure of the M5 competition.

The method with the lowest squared error (``rmsse``) wins; ties go to the
simpler method. Squared error, not absolute: on intermittent demand (10, 0,
0, 10, ...) the forecast with the least absolute error is zero (the median),
while stock planning needs the mean, which squared error rewards. A series with no history,
only zeros, or fewer than ``MIN_PERIODS`` periods gets no forecast: the
result says so in English and Chinese (``status`` is not ``"ok"`` and
``points`` is empty), and ``Forecast.require()`` raises ``NoForecast``.

Pure standard library; quantities in and out are exact Decimals.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Hashable, Optional, Sequence

from app.domain.errors import ValidationFailed

PERIODS = ("week", "month", "day")
DEFAULT_SEASON = {"week": 52, "month": 12, "day": 7}
MIN_PERIODS = 4
FOLDS = 8

WINDOWS = (2, 3, 4, 6, 8, 12, 26)
ALPHAS = (0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
HW_ALPHAS = (0.1, 0.3, 0.5)
HW_BETAS = (None, 0.05, 0.2)
HW_GAMMAS = (0.1, 0.3, 0.5)

# Simplest first: a tie in backtest error goes to the earlier method.
METHODS = ("naive", "seasonal_naive", "moving_average", "ses", "holt_winters")
_NAMES = {
    "naive": ("naive (last value)", "朴素法（上期值）"),
    "seasonal_naive": ("seasonal naive", "季节朴素法"),
    "moving_average": ("moving average", "移动平均"),
    "ses": ("simple exponential smoothing", "简单指数平滑"),
    "holt_winters": ("additive Holt-Winters", "加法 Holt-Winters"),
}


class NoForecast(ValidationFailed):
    """The series cannot be forecast (no history, only zeros, too short)."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ForecastPoint:
    period_start: dt.date
    quantity: Decimal


@dataclass(frozen=True)
class MethodScore:
    """Backtest errors of one method with its best parameters; ``note`` says
    why a method was not tried (then the errors are None)."""

    method: str
    parameters: dict
    mae: Optional[float]
    mape: Optional[float]
    mase: Optional[float]
    rmsse: Optional[float] = None
    note: Optional[str] = None


@dataclass(frozen=True)
class Forecast:
    product: Hashable
    warehouse: Hashable
    period: str
    season_length: int
    status: str  # "ok", "no_history", "all_zero", "too_short"
    message: dict  # {"en": ..., "zh": ...}
    history: tuple  # ForecastPoint per period, gaps filled with zero
    points: tuple = ()  # ForecastPoint per future period
    method: Optional[str] = None
    parameters: dict = field(default_factory=dict)
    errors: tuple = ()  # MethodScore per method, the winner first

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def require(self) -> "Forecast":
        """This forecast, or NoForecast saying why there is none."""
        if not self.ok:
            raise NoForecast(self.message["en"], zh=self.message["zh"],
                             details={"status": self.status, "product": str(self.product),
                                      "warehouse": str(self.warehouse)})
        return self

    def score(self, method: str) -> MethodScore:
        return next(s for s in self.errors if s.method == method)


# --------------------------------------------------------------------------- periods


def period_start(day: dt.date, period: str) -> dt.date:
    """The start of the period ``day`` falls in."""
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def next_period(start: dt.date, period: str, steps: int = 1) -> dt.date:
    if period == "week":
        return start + dt.timedelta(weeks=steps)
    if period == "month":
        months = start.year * 12 + start.month - 1 + steps
        return dt.date(months // 12, months % 12 + 1, 1)
    return start + dt.timedelta(days=steps)


def fill_gaps(history: Sequence[tuple], period: str = "week",
              end: Optional[dt.date] = None) -> list[ForecastPoint]:
    """One point per period from the first given to ``end`` (or the last
    given); quantities in one period added, missing periods zero."""
    totals: dict[dt.date, Decimal] = {}
    for n, item in enumerate(history, 1):
        try:
            day, quantity = item
        except (TypeError, ValueError):
            raise ValidationFailed(f"history entry {n} must be (period_start, quantity)",
                                   zh=f"第 {n} 条历史记录必须是（期间开始日期, 数量）") from None
        if not isinstance(day, dt.date):
            raise ValidationFailed(f"history entry {n}: {day!r} is not a date",
                                   zh=f"第 {n} 条历史记录：{day!r} 不是日期")
        if isinstance(quantity, bool) or not isinstance(quantity, (Decimal, int)):
            raise ValidationFailed(
                f"history entry {n}: quantity must be an exact Decimal, got {quantity!r}",
                zh=f"第 {n} 条历史记录：数量必须是精确的十进制数，收到 {quantity!r}")
        quantity = Decimal(quantity)
        if not quantity.is_finite() or quantity < 0:
            raise ValidationFailed(f"history entry {n}: quantity must be >= 0, got {quantity}",
                                   zh=f"第 {n} 条历史记录：数量必须不小于 0，收到 {quantity}")
        day = day.date() if isinstance(day, dt.datetime) else day
        start = period_start(day, period)
        totals[start] = totals.get(start, Decimal(0)) + quantity
    if not totals:
        return []
    first = min(totals)
    last = max(totals)
    if end is not None:
        last = max(last, period_start(end, period))
    points, current = [], first
    while current <= last:
        points.append(ForecastPoint(current, totals.get(current, Decimal(0))))
        current = next_period(current, period)
    return points


# --------------------------------------------------------------------------- methods


def _naive(y: list[float], h: int, m: int) -> list[float]:
    return [y[-1]] * h


def _moving_average(window: int) -> Callable:
    def fit(y: list[float], h: int, m: int) -> list[float]:
        tail = y[-window:]
        return [sum(tail) / len(tail)] * h
    return fit


def _ses(alpha: float) -> Callable:
    def fit(y: list[float], h: int, m: int) -> list[float]:
        level = y[0]
        for value in y[1:]:
            level = alpha * value + (1 - alpha) * level
        return [level] * h
    return fit


def _seasonal_naive(y: list[float], h: int, m: int) -> list[float]:
    last_season = y[-m:]
    return [last_season[i % m] for i in range(h)]


def _holt_winters(alpha: float, beta: Optional[float], gamma: float) -> Callable:
    """Additive Holt-Winters (Hyndman & Athanasopoulos, FPP3 8.3); ``beta``
    None for no trend. Initial level and season from the first season, trend
    from the first two."""
    def fit(y: list[float], h: int, m: int) -> list[float]:
        first = sum(y[:m]) / m
        level = first
        trend = 0.0 if beta is None else (sum(y[m:2 * m]) / m - first) / m
        season = [y[i] - first for i in range(m)]
        for t in range(m, len(y)):
            s, previous, previous_trend = season[t % m], level, trend
            level = alpha * (y[t] - s) + (1 - alpha) * (previous + previous_trend)
            if beta is not None:
                trend = beta * (level - previous) + (1 - beta) * previous_trend
            season[t % m] = gamma * (y[t] - previous - previous_trend) + (1 - gamma) * s
        n = len(y)
        return [level + (k + 1) * trend + season[(n + k) % m] for k in range(h)]
    return fit


@dataclass(frozen=True)
class _Candidate:
    method: str
    parameters: dict
    fit: Callable
    min_train: int


def _candidates(n_train: int, m: int) -> tuple[list[_Candidate], list[MethodScore]]:
    """Every method and parameter that fits the shortest training window;
    the methods that do not, with the reason."""
    out = [_Candidate("naive", {}, _naive, 1)]
    skipped = []
    seasonal = m >= 2
    if seasonal and n_train >= m:
        out.append(_Candidate("seasonal_naive", {"season_length": m}, _seasonal_naive, m))
    elif seasonal:
        skipped.append(MethodScore("seasonal_naive", {"season_length": m}, None, None, None,
                                   None, f"needs one season ({m} periods) before the backtest"))
    out += [_Candidate("moving_average", {"window": w}, _moving_average(w), w)
            for w in WINDOWS if w <= n_train]
    out += [_Candidate("ses", {"alpha": a}, _ses(a), 1) for a in ALPHAS]
    if seasonal and n_train >= 2 * m:
        out += [_Candidate("holt_winters", {"alpha": a, "beta": b, "gamma": g, "season_length": m},
                           _holt_winters(a, b, g), 2 * m)
                for a in HW_ALPHAS for b in HW_BETAS for g in HW_GAMMAS]
    elif seasonal:
        skipped.append(MethodScore("holt_winters", {"season_length": m}, None, None, None,
                                   None,
                                   f"needs two seasons ({2 * m} periods) before the backtest"))
    return out, skipped


# --------------------------------------------------------------------------- errors


def mase(history: Sequence[float], actual: Sequence[float], predicted: Sequence[float],
         season: int = 1) -> Optional[float]:
    """Mean absolute scaled error of ``predicted`` against ``actual``, scaled by
    the mean absolute ``season``-step change of ``history``; None when the
    history never changes."""
    history = [float(v) for v in history]
    changes = [abs(history[i] - history[i - season]) for i in range(season, len(history))]
    scale = sum(changes) / len(changes) if changes else 0.0
    if scale == 0:
        return None
    return _mae(actual, predicted) / scale


def rmsse(history: Sequence[float], actual: Sequence[float], predicted: Sequence[float],
          season: int = 1) -> Optional[float]:
    """Root mean squared scaled error (M5): squared errors scaled by the mean
    squared ``season``-step change of ``history``; None when it never changes."""
    history = [float(v) for v in history]
    changes = [(history[i] - history[i - season]) ** 2 for i in range(season, len(history))]
    scale = sum(changes) / len(changes) if changes else 0.0
    if scale == 0:
        return None
    return math.sqrt(_mse(actual, predicted) / scale)


def _mse(actual: Sequence[float], predicted: Sequence[float]) -> float:
    pairs = list(zip(actual, predicted))
    return sum((float(a) - float(p)) ** 2 for a, p in pairs) / len(pairs)


def _mae(actual: Sequence[float], predicted: Sequence[float]) -> float:
    pairs = list(zip(actual, predicted))
    return sum(abs(float(a) - float(p)) for a, p in pairs) / len(pairs)


def _mape(actual: Sequence[float], predicted: Sequence[float]) -> Optional[float]:
    terms = [abs(a - p) / abs(a) for a, p in zip(actual, predicted) if a != 0]
    return 100.0 * sum(terms) / len(terms) if terms else None


# --------------------------------------------------------------------------- forecast


def forecast(history: Sequence[tuple], *, product: Hashable = None, warehouse: Hashable = None,
             period: str = "week", horizon: int = 8, season_length: Optional[int] = None,
             end: Optional[dt.date] = None, precision: int = 2) -> Forecast:
    """Forecast the next ``horizon`` periods with the method that backtests best.

    ``season_length`` defaults by period (52 weeks, 12 months, 7 days); 0 or 1
    turns the seasonal methods off. ``precision``: decimal places of the
    forecast quantities (never below zero).
    """
    if period not in PERIODS:
        raise ValidationFailed(f"unknown period {period!r}; allowed: week, month, day",
                               zh=f"未知的期间 {period!r}；可选：week、month、day")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValidationFailed(f"horizon must be a whole number of periods >= 1, got {horizon!r}",
                               zh=f"预测期数必须是不小于 1 的整数，收到 {horizon!r}")
    m = DEFAULT_SEASON[period] if season_length is None else season_length
    if isinstance(m, bool) or not isinstance(m, int) or m < 0:
        raise ValidationFailed(f"season_length must be a whole number >= 0, got {m!r}",
                               zh=f"季节长度必须是不小于 0 的整数，收到 {m!r}")
    if isinstance(precision, bool) or not isinstance(precision, int) or not 0 <= precision <= 12:
        raise ValidationFailed(f"precision must be 0..12 decimal places, got {precision!r}",
                               zh=f"精度必须是 0 到 12 位小数，收到 {precision!r}")
    filled = tuple(fill_gaps(history, period, end))
    base = dict(product=product, warehouse=warehouse, period=period, season_length=m,
                history=filled)
    what, what_zh = _what(product, warehouse)
    if not filled:
        return Forecast(status="no_history", message=_no_forecast(
            what, what_zh, "no shipment history", "没有出库历史"), **base)
    if all(p.quantity == 0 for p in filled):
        return Forecast(status="all_zero", message=_no_forecast(
            what, what_zh, f"no shipments in {len(filled)} {period}s of history",
            f"{len(filled)} 个{_PERIOD_ZH[period]}的历史中没有出库"), **base)
    if len(filled) < MIN_PERIODS:
        return Forecast(status="too_short", message=_no_forecast(
            what, what_zh, f"only {len(filled)} {period}s of history (needs {MIN_PERIODS})",
            f"历史只有 {len(filled)} 个{_PERIOD_ZH[period]}（至少需要 {MIN_PERIODS} 个）"), **base)

    y = [float(p.quantity) for p in filled]
    n = len(y)
    h = min(horizon, max(1, n // 4))           # backtest horizon
    folds = max(1, min(FOLDS, n - h - 1))       # origins, each training on >= 2 periods
    origins = list(range(n - h - folds + 1, n - h + 1))
    candidates, skipped = _candidates(origins[0], m)

    scale_history = y[:origins[0]]
    best: dict[str, tuple] = {}
    for cand in candidates:
        actual, predicted = [], []
        for t in origins:
            actual += y[t:t + h]
            predicted += [max(0.0, v) for v in cand.fit(y[:t], h, m)]
        mse = _mse(actual, predicted)
        if cand.method not in best or mse < best[cand.method][0] - 1e-12:
            best[cand.method] = (mse, cand, actual, predicted)
    order = {name: i for i, name in enumerate(METHODS)}
    ranked = sorted(best.values(), key=lambda b: (round(b[0], 9), order[b[1].method]))
    scores = [MethodScore(c.method, c.parameters, round(_mae(a, p), 6), _round(_mape(a, p)),
                          _round(mase(scale_history, a, p)), _round(rmsse(scale_history, a, p)))
              for _, c, a, p in ranked]
    winner, top = ranked[0][1], scores[0]
    naive_score = next(s for s in scores if s.method == "naive")
    scores += skipped

    quantum = Decimal(1).scaleb(-precision)
    values = winner.fit(y, horizon, m)
    start = next_period(filled[-1].period_start, period)
    points = tuple(
        ForecastPoint(next_period(start, period, k),
                      Decimal(repr(max(0.0, v))).quantize(quantum))
        for k, v in enumerate(values))
    en_name, zh_name = _NAMES[winner.method]
    params = _params(winner.parameters)
    figures = f"MAE {top.mae:.2f} (naive {naive_score.mae:.2f})"
    figures_zh = f"MAE {top.mae:.2f}（朴素法 {naive_score.mae:.2f}）"
    if top.mase is not None and naive_score.mase is not None:
        figures += f", MASE {top.mase:.2f} (naive {naive_score.mase:.2f})"
        figures_zh += f"，MASE {top.mase:.2f}（朴素法 {naive_score.mase:.2f}）"
    message = {
        "en": f"{en_name}{params} for {what}, chosen by backtest over {folds} origins: {figures}",
        "zh": f"{what_zh}：按 {folds} 个起点回测选择{zh_name}{params}：{figures_zh}",
    }
    return Forecast(status="ok", message=message, points=points, method=winner.method,
                    parameters=dict(winner.parameters), errors=tuple(scores), **base)


_PERIOD_ZH = {"week": "周", "month": "月", "day": "天"}


def _what(product: Any, warehouse: Any) -> tuple[str, str]:
    if product is None and warehouse is None:
        return "this series", "该序列"
    if warehouse is None:
        return str(product), str(product)
    if product is None:
        return f"warehouse {warehouse}", f"仓库 {warehouse}"
    return f"{product} at {warehouse}", f"{warehouse} 的 {product}"


def _no_forecast(what: str, what_zh: str, en: str, zh: str) -> dict:
    return {"en": f"{en} for {what}: no forecast", "zh": f"{what_zh}：{zh}，无法预测"}


def _params(parameters: dict) -> str:
    shown = {k: v for k, v in parameters.items() if k != "season_length"}
    if not shown:
        return ""
    return " (" + ", ".join(f"{k} {'none' if v is None else v}" for k, v in shown.items()) + ")"


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 6)
