"""Transfer optimization: which lots to move between warehouses so demands are met.

A linear model (PuLP; solved by HiGHS through ``highspy``, CBC as fallback) over
supplies (warehouse, product, lot, quantity, expiry), demands (warehouse,
product, quantity, date needed) and lanes (transit days, cost per unit, fixed
cost per shipment, capacity, distance, optional vehicles).

Rules, shared by the optimizer and by the naive plan:

- **Local stock first, free.** A demand may be covered by a lot already at its
  own warehouse, at zero cost and zero transit days.
- **Shelf life at arrival.** A lot may serve a demand only if it *arrives* with
  at least the product's ``min_shelf_days`` left:
  ``(expiry - (today + transit_days)).days >= min_shelf_days`` (transit 0 for
  local stock). Lots without expiry always pass.
- **On time.** A transfer must arrive by the demand's ``needed_by`` date
  (``today + transit_days <= needed_by``) unless ``allow_late`` is set. Local
  stock is always on time.
- **Safety stock and a warehouse's own demand stay at the source.** Transfers
  out of warehouse W of product P may take at most
  ``on_hand(W, P) - safety_stock(W, P) - demand(W, P)`` (never below 0), where
  ``on_hand`` counts the units of lots not expired today and ``demand`` is the
  total of W's own demands of P. So a warehouse only ships its surplus.
- **Lane capacity** (units per period, all products together) is an upper
  bound on everything a lane carries in the plan. A lane with vehicles carries
  at most ``vehicle_capacity`` times the (whole) number of vehicles, each
  costing ``vehicle_cost``.
- One lane per (from, to) pair.

Objectives (``Objective``): ``cost`` (unit costs, fixed costs per used lane,
vehicle costs), ``time`` (units × transit days), ``nearest`` (units × km when
every lane has a distance, else units × transit days), or a weighted mix of
the three. Unmet demand is a slack variable, so the model is always
feasible; meeting demand comes first (a penalty larger than any way of
meeting a unit, or for a MILP a first phase that finds the most that can be
met, see ``_solve``). Among equally good plans, lots that expire sooner are
preferred (a tie-break worth at most 1/10,000 of the cheapest non-zero unit
coefficient).

Binary "lane used" variables exist only when the objective includes cost and
a lane has a fixed cost; integer vehicle counts only when it includes cost and
a lane has vehicles. Then the model is a MILP, solved to ``mip_gap``; the plan
reports the gap the solver reached (on the objective, not on a penalty) and
whether it stopped at the time limit. Variables exist only for allowed
(lot, lane-or-local, demand) combinations.

The solver works in floats; the plan's quantities are exact Decimals rounded
to the product's unit (whole units unless ``precision`` says otherwise), and
rounding never takes more than a lot holds, a demand asks, a lane carries or
a source may ship.

Totals (``Totals``): ``cost`` as above (vehicles counted as the fewest that
carry the planned units); ``transit_unit_days`` = Σ units × transit days;
``unit_km`` = Σ units × km, or None when a used lane has no distance;
``expiring_unused`` = units the plan leaves in lots that expire between
``today`` and the horizon (``TransferProblem.horizon``, default the latest
``needed_by`` of the demands): stock that will go to waste if nothing else
uses it.

Pure standard library apart from PuLP (imported when solving).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import decimal
import gc
import math
import os
import re
import tempfile
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Hashable, Mapping, Optional, Sequence

from app.domain.errors import DomainError, ValidationFailed

try:  # the model is built with PuLP; without it only naive_plan works
    import pulp
except ImportError:  # pragma: no cover - pulp is a declared dependency
    pulp = None
try:
    import highspy
except ImportError:  # pragma: no cover - highspy is a declared dependency
    highspy = None

# Arithmetic on quantities must never round by accident.
_EXACT = decimal.Context(prec=80, traps=[decimal.Inexact, decimal.InvalidOperation])

SOLVERS = ("highs", "cbc")


class OptimizerError(DomainError):
    """The optimizer could not produce a plan; nothing was changed."""

    status = 503


class SolverUnavailable(OptimizerError):
    """Neither the requested solver nor its fallback can be run here."""


class SolverFailed(OptimizerError):
    """The solver ran but returned no usable plan (error, or stopped without one)."""


# --------------------------------------------------------------------------- values


def _quantity(value: Any, what: str, *, optional: bool = False) -> Optional[Decimal]:
    """``value`` as a finite Decimal >= 0; floats and other inexact input refused."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise ValidationFailed(
            f"{what} must be an exact Decimal, got {value!r} ({type(value).__name__})",
            zh=f"{what} 必须是精确的十进制数，收到 {value!r}",
        )
    quantity = Decimal(value)
    if not quantity.is_finite() or quantity < 0:
        raise ValidationFailed(
            f"{what} must be a finite number >= 0, got {value!r}",
            zh=f"{what} 必须是不小于 0 的有限数，收到 {value!r}",
        )
    return quantity


def _days(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationFailed(
            f"{what} must be a whole number of days >= 0, got {value!r}",
            zh=f"{what} 必须是不小于 0 的整数天数，收到 {value!r}",
        )
    return value


def _date(value: Any, what: str, *, optional: bool = False) -> Optional[dt.date]:
    if value is None and optional:
        return None
    if not isinstance(value, dt.date):
        raise ValidationFailed(f"{what} must be a date, got {value!r}",
                               zh=f"{what} 必须是日期，收到 {value!r}")
    return value.date() if isinstance(value, dt.datetime) else value


@dataclass(frozen=True)
class Supply:
    """Stock that may be moved: one lot of one product in one warehouse."""

    warehouse: Hashable
    product: Hashable
    lot: Hashable
    quantity: Decimal
    expiry: Optional[dt.date] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantity", _quantity(self.quantity, "supply quantity"))
        object.__setattr__(self, "expiry", _date(self.expiry, "expiry", optional=True))

    def days_left(self, on: dt.date) -> Optional[int]:
        """Shelf-life days left at ``on``; None when the lot has no expiry."""
        return None if self.expiry is None else (self.expiry - on).days


@dataclass(frozen=True)
class Demand:
    """``quantity`` of ``product`` needed at ``warehouse`` by ``needed_by``."""

    warehouse: Hashable
    product: Hashable
    quantity: Decimal
    needed_by: dt.date

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantity", _quantity(self.quantity, "demand quantity"))
        object.__setattr__(self, "needed_by", _date(self.needed_by, "needed_by"))


@dataclass(frozen=True)
class Lane:
    """A way to move stock from one warehouse to another.

    ``capacity`` is units per period (all products together), None for no limit.
    With ``vehicle_capacity``, the lane carries at most that many units per
    vehicle and each vehicle costs ``vehicle_cost``.
    """

    from_warehouse: Hashable
    to_warehouse: Hashable
    transit_days: int
    cost_per_unit: Decimal
    fixed_cost: Decimal = Decimal(0)
    capacity: Optional[Decimal] = None
    distance_km: Optional[Decimal] = None
    vehicle_capacity: Optional[Decimal] = None
    vehicle_cost: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        _days(self.transit_days, "transit_days")
        for name in ("cost_per_unit", "fixed_cost", "vehicle_cost"):
            object.__setattr__(self, name, _quantity(getattr(self, name), name))
        for name in ("capacity", "distance_km", "vehicle_capacity"):
            object.__setattr__(self, name, _quantity(getattr(self, name), name, optional=True))
        if self.vehicle_capacity is not None and self.vehicle_capacity <= 0:
            raise ValidationFailed("vehicle_capacity must be greater than zero",
                                   zh="车辆容量必须大于 0")

    @property
    def key(self) -> tuple:
        return (self.from_warehouse, self.to_warehouse)

    @property
    def label(self) -> str:
        return f"{self.from_warehouse}→{self.to_warehouse}"


@dataclass(frozen=True)
class TransferProblem:
    """Everything the optimizer and the naive plan look at.

    ``min_shelf_days``: product -> days a lot must have left on arrival.
    ``safety_stock``: (warehouse, product) -> units kept at the source.
    ``precision``: product -> decimal places of its unit (default 0: whole units).
    ``horizon``: last day counted for ``expiring_unused`` (default: the latest
    ``needed_by``).
    """

    supplies: Sequence[Supply]
    demands: Sequence[Demand]
    lanes: Sequence[Lane]
    today: dt.date
    min_shelf_days: Mapping[Hashable, int] = field(default_factory=dict)
    safety_stock: Mapping[tuple, Decimal] = field(default_factory=dict)
    precision: Mapping[Hashable, int] = field(default_factory=dict)
    allow_late: bool = False
    horizon: Optional[dt.date] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "supplies", tuple(self.supplies))
        object.__setattr__(self, "demands", tuple(self.demands))
        object.__setattr__(self, "lanes", tuple(self.lanes))
        object.__setattr__(self, "today", _date(self.today, "today"))
        object.__setattr__(self, "horizon", _date(self.horizon, "horizon", optional=True))
        problems: list[tuple[str, str]] = []
        for kind, items in (("supply", self.supplies), ("demand", self.demands),
                            ("lane", self.lanes)):
            cls = {"supply": Supply, "demand": Demand, "lane": Lane}[kind]
            for n, item in enumerate(items, 1):
                if not isinstance(item, cls):
                    problems.append((f"{kind} {n} is not a {cls.__name__}",
                                     f"第 {n} 个{kind}不是 {cls.__name__}"))
        seen_lots: set = set()
        for s in self.supplies:
            key = (s.warehouse, s.product, s.lot) if isinstance(s, Supply) else None
            if key in seen_lots:
                problems.append((f"lot {s.lot} of {s.product} at {s.warehouse} is listed twice",
                                 f"{s.warehouse} 的 {s.product} 批次 {s.lot} 重复列出"))
            seen_lots.add(key)
        seen_lanes: set = set()
        for lane in self.lanes:
            if not isinstance(lane, Lane):
                continue
            if lane.from_warehouse == lane.to_warehouse:
                problems.append((f"lane {lane.label} starts and ends at the same warehouse",
                                 f"线路 {lane.label} 的起点和终点是同一个仓库"))
            if lane.key in seen_lanes:
                problems.append((f"two lanes {lane.label}; give one lane per pair of warehouses",
                                 f"线路 {lane.label} 重复；每对仓库只能有一条线路"))
            seen_lanes.add(lane.key)
        for product, days in dict(self.min_shelf_days).items():
            try:
                _days(days, f"min_shelf_days of {product}")
            except ValidationFailed as e:
                problems.append((e.message, e.zh or e.message))
        for key, units in dict(self.safety_stock).items():
            try:
                _quantity(units, f"safety stock of {key}")
            except ValidationFailed as e:
                problems.append((e.message, e.zh or e.message))
        for product, places in dict(self.precision).items():
            if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= 12:
                problems.append((f"precision of {product} must be 0..12 decimal places, "
                                 f"got {places!r}",
                                 f"{product} 的精度必须是 0 到 12 位小数，收到 {places!r}"))
        if problems:
            raise ValidationFailed(
                "transfer problem is invalid: " + "; ".join(en for en, _ in problems),
                details={"problems": [en for en, _ in problems]},
                zh="调拨优化输入无效：" + "；".join(zh for _, zh in problems),
            )
        object.__setattr__(self, "min_shelf_days", dict(self.min_shelf_days))
        object.__setattr__(self, "safety_stock",
                           {k: Decimal(v) for k, v in dict(self.safety_stock).items()})
        object.__setattr__(self, "precision", dict(self.precision))

    def quantum(self, product: Hashable) -> Decimal:
        """The product's unit: 1, or 0.1, 0.01, ... with ``precision``."""
        return Decimal(1).scaleb(-self.precision.get(product, 0))


@dataclass(frozen=True)
class Objective:
    """Weights of cost, time (unit-days) and nearest (unit-km or unit-days)."""

    cost: Decimal = Decimal(1)
    time: Decimal = Decimal(0)
    nearest: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in ("cost", "time", "nearest"):
            object.__setattr__(self, name, _quantity(getattr(self, name), f"weight of {name}"))
        if not (self.cost or self.time or self.nearest):
            raise ValidationFailed("an objective needs at least one weight above zero",
                                   zh="优化目标至少需要一个大于 0 的权重")

    @property
    def name(self) -> str:
        weights = (self.cost, self.time, self.nearest)
        if sum(1 for w in weights if w) == 1:
            return ("cost", "time", "nearest")[next(i for i, w in enumerate(weights) if w)]
        return "weighted"

    @classmethod
    def parse(cls, value: "Objective | str") -> "Objective":
        """``'cost'``, ``'time'``, ``'nearest'`` or an Objective (weighted)."""
        if isinstance(value, cls):
            return value
        presets = {"cost": cls(), "time": cls(Decimal(0), Decimal(1)),
                   "nearest": cls(Decimal(0), Decimal(0), Decimal(1))}
        if isinstance(value, str) and value.strip().lower() in presets:
            return presets[value.strip().lower()]
        raise ValidationFailed(
            f"unknown objective {value!r}; allowed: cost, time, nearest, or "
            "Objective(cost=..., time=..., nearest=...) for a weighted mix",
            zh=f"未知的优化目标 {value!r}；可选：cost、time、nearest 或加权组合",
        )


@dataclass(frozen=True)
class SolverOptions:
    """``solver``: "highs" (default; falls back to CBC when HiGHS is not
    installed) or "cbc". ``mip_gap``: relative gap at which a MILP counts as
    solved. ``time_limit_seconds``: None for no limit."""

    solver: str = "highs"
    time_limit_seconds: Optional[float] = None
    mip_gap: float = 0.01
    threads: Optional[int] = None

    def __post_init__(self) -> None:
        if self.solver not in SOLVERS:
            raise ValidationFailed(f"unknown solver {self.solver!r}; allowed: highs, cbc",
                                   zh=f"未知的求解器 {self.solver!r}；可选：highs、cbc")
        if self.time_limit_seconds is not None and not self.time_limit_seconds > 0:
            raise ValidationFailed("time_limit_seconds must be greater than zero",
                                   zh="求解时间上限必须大于 0")
        if not 0 <= self.mip_gap < 1:
            raise ValidationFailed("mip_gap must be between 0 and 1", zh="MIP 间隙必须在 0 到 1 之间")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ProposedMove:
    """A draft transfer: ``quantity`` of ``lot`` from one warehouse to another.
    ``reason`` is ``{"en": ..., "zh": ...}``."""

    from_warehouse: Hashable
    to_warehouse: Hashable
    product: Hashable
    lot: Hashable
    quantity: Decimal
    reason: dict
    arrives_on: dt.date
    needed_by: dt.date


@dataclass(frozen=True)
class LocalUse:
    """A demand covered by a lot already at its warehouse: no transfer."""

    warehouse: Hashable
    product: Hashable
    lot: Hashable
    quantity: Decimal
    reason: dict


@dataclass(frozen=True)
class UnmetDemand:
    """What the plan cannot cover; ``reasons`` is a list of
    ``{"code", "en", "zh"}`` (codes: no_stock, shelf_life, no_lane, too_late,
    capacity, safety_stock, committed, not_planned, rounding)."""

    warehouse: Hashable
    product: Hashable
    quantity: Decimal
    needed_by: dt.date
    reasons: tuple

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r["code"] for r in self.reasons)


@dataclass(frozen=True)
class Shipment:
    """Everything the plan sends over one lane, and what that costs."""

    from_warehouse: Hashable
    to_warehouse: Hashable
    quantity: Decimal
    vehicles: Optional[int]
    cost: Decimal


@dataclass(frozen=True)
class Totals:
    cost: Decimal
    transit_unit_days: Decimal
    unit_km: Optional[Decimal]
    moved: Decimal
    covered_locally: Decimal
    unmet: Decimal
    expiring_unused: Decimal


@dataclass(frozen=True)
class Plan:
    """A proposed set of transfers.

    ``status`` is the solver's own word for how it ended; ``optimal`` is True
    only when the solver proved the plan optimal within ``mip_gap``;
    ``time_limited`` is True when it stopped at the time limit with a plan that
    is not proven optimal. ``gap`` is the relative MIP gap reached (0.0 for an
    LP, None when the solver does not say). ``objective`` is the chosen
    objective evaluated on the returned plan (unmet demand not included).

    Timings: ``build_seconds`` from the inputs to the PuLP model (allowed
    routes, coefficients, constraints); ``solve_seconds`` handing the model to
    the solver and solving, of which ``solver_seconds`` inside the solver
    itself (HiGHS says; CBC does not); ``report_seconds`` rounding, reasons
    and totals.
    """

    status: str
    optimal: bool
    time_limited: bool
    gap: Optional[float]
    solver: str
    objective_name: str
    objective: Decimal
    totals: Totals
    moves: tuple
    local: tuple
    unmet: tuple
    shipments: tuple
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    report_seconds: float = 0.0
    solver_seconds: Optional[float] = None
    variables: int = 0
    constraints: int = 0


# --------------------------------------------------------------------------- index


class _Index:
    """Lookups shared by the optimizer, the naive plan and the reasons."""

    def __init__(self, problem: TransferProblem):
        self.problem = problem
        self.today = problem.today
        self.supplies = [s for s in problem.supplies if s.quantity > 0]
        self.demands = [d for d in problem.demands if d.quantity > 0]
        self.lanes = list(problem.lanes)
        self.lane_by_key = {lane.key: i for i, lane in enumerate(self.lanes)}
        self.lanes_into: dict[Any, list[int]] = defaultdict(list)
        for i, lane in enumerate(self.lanes):
            self.lanes_into[lane.to_warehouse].append(i)
        self.by_wp: dict[tuple, list[int]] = defaultdict(list)
        self.by_product: dict[Any, list[int]] = defaultdict(list)
        for si, s in enumerate(self.supplies):
            self.by_wp[(s.warehouse, s.product)].append(si)
            self.by_product[s.product].append(si)
        for lots in self.by_wp.values():
            lots.sort(key=lambda si: _fefo(self.supplies[si]))
        own_demand: dict[tuple, Decimal] = defaultdict(Decimal)
        for d in self.demands:
            own_demand[(d.warehouse, d.product)] += d.quantity
        self.own_demand = own_demand
        # What may leave each (warehouse, product): surplus over safety stock and own demand.
        self.export_cap: dict[tuple, Decimal] = {}
        self.on_hand: dict[tuple, Decimal] = {}
        for key, lots in self.by_wp.items():
            on_hand = sum((self.supplies[si].quantity for si in lots
                           if self.supplies[si].expiry is None
                           or self.supplies[si].expiry >= self.today), Decimal(0))
            self.on_hand[key] = on_hand
            held = problem.safety_stock.get(key, Decimal(0)) + own_demand.get(key, Decimal(0))
            self.export_cap[key] = max(Decimal(0), on_hand - held)
        self.uses_distance = bool(self.lanes) and all(l.distance_km is not None for l in self.lanes)

    def min_days(self, product: Hashable) -> int:
        return self.problem.min_shelf_days.get(product, 0)

    def nearest_metric(self, lane: Optional[Lane]) -> Decimal:
        if lane is None:
            return Decimal(0)
        return lane.distance_km if self.uses_distance else Decimal(lane.transit_days)

    def blocked(self, s: Supply, lane: Optional[Lane], d: Demand) -> Optional[str]:
        """Why lot ``s`` cannot serve ``d`` over ``lane`` (None: local), or None if it can."""
        transit = 0 if lane is None else lane.transit_days
        arrival = self.today + dt.timedelta(days=transit)
        left = s.days_left(arrival)
        if left is not None and left < self.min_days(s.product):
            return "shelf_life"
        if lane is not None and arrival > d.needed_by and not self.problem.allow_late:
            return "too_late"
        return None

    def horizon(self) -> dt.date:
        if self.problem.horizon is not None:
            return self.problem.horizon
        return max((d.needed_by for d in self.demands), default=self.today)


def _fefo(s: Supply) -> tuple:
    return ((1,) if s.expiry is None else (0, s.expiry), str(s.lot))


# --------------------------------------------------------------------------- routes


@dataclass
class _Route:
    """One allowed (lot, lane-or-local, demand) combination: a flow variable."""

    si: int
    li: int  # -1: local stock
    di: int
    upper: Decimal


def _routes(ix: _Index) -> list[_Route]:
    """Allowed combinations only, in a fixed order (demand, then local, then lanes)."""
    routes: list[_Route] = []
    supplies, lanes = ix.supplies, ix.lanes
    for di, d in enumerate(ix.demands):
        for si in ix.by_wp.get((d.warehouse, d.product), ()):
            s = supplies[si]
            if ix.blocked(s, None, d) is None:
                routes.append(_Route(si, -1, di, min(s.quantity, d.quantity)))
        for li in ix.lanes_into.get(d.warehouse, ()):
            lane = lanes[li]
            key = (lane.from_warehouse, d.product)
            cap = ix.export_cap.get(key)
            if not cap:
                continue
            for si in ix.by_wp[key]:
                s = supplies[si]
                if ix.blocked(s, lane, d) is None:
                    upper = min(s.quantity, d.quantity, cap)
                    if lane.capacity is not None:
                        upper = min(upper, lane.capacity)
                    if upper > 0:
                        routes.append(_Route(si, li, di, upper))
    return routes


# --------------------------------------------------------------------------- optimize


def optimize(problem: TransferProblem, objective: "Objective | str" = "cost",
             options: Optional[SolverOptions] = None) -> Plan:
    """The best plan for ``objective`` under the problem's rules.

    Raises SolverUnavailable when no solver can run, SolverFailed when the
    solver ends without a usable plan (never returns an unchecked result).
    """
    objective = Objective.parse(objective)
    options = options or SolverOptions()
    started = time.perf_counter()
    with _gc_paused():
        ix = _Index(problem)
        routes = _routes(ix)
        if not routes:
            return _plan(ix, routes, [], objective, status="no possible moves",
                         optimal=True, time_limited=False, gap=0.0, solver="none",
                         build=time.perf_counter() - started, solve=0.0)
        run = _pick_solver(options)
        model = _build_model(ix, routes, objective)
    build = time.perf_counter() - started
    started = time.perf_counter()
    outcome = _solve(model, options, run)
    solve = time.perf_counter() - started
    solver_seconds = outcome.seconds
    started = time.perf_counter()
    with _gc_paused():
        flows = _rounded_flows(ix, routes, [x.varValue or 0.0 for x in model.flow_vars])
        plan = _plan(ix, routes, flows, objective, status=outcome.status,
                     optimal=outcome.optimal, time_limited=outcome.time_limited,
                     gap=outcome.gap, solver=outcome.solver, build=build, solve=solve,
                     variables=model.variables, constraints=model.constraints)
    return dataclasses.replace(plan, report_seconds=time.perf_counter() - started,
                               solver_seconds=solver_seconds)


@contextlib.contextmanager
def _gc_paused():
    """No cyclic garbage collection while tens of thousands of model objects
    are made (none of them garbage yet): a third of the build time on the
    bench LP went to collections. Not held across the solve, which may run
    for minutes."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class _Model:
    prob: Any
    flow_vars: list
    slack: list
    objective: Any   # the chosen objective, no penalty (phase 2 of a MILP)
    penalized: Any   # objective + penalty per unmet unit (an LP, one phase)
    integer_vars: list  # (variable, flow variables of its lane, vehicle capacity or None)
    is_mip: bool
    variables: int
    constraints: int


def _coefficients(ix: _Index, routes: list[_Route], objective: Objective) -> list[float]:
    wc, wt, wn = float(objective.cost), float(objective.time), float(objective.nearest)
    base = []
    for r in routes:
        if r.li < 0:
            base.append(0.0)
            continue
        lane = ix.lanes[r.li]
        base.append(wc * float(lane.cost_per_unit) + wt * lane.transit_days
                    + wn * float(ix.nearest_metric(lane)))
    # Tie-break: sooner-expiring lots first, worth far less than any real difference.
    positive = [b for b in base if b > 0]
    scale = 1e-4 * (min(positive) if positive else 1.0)
    left = []
    for r in routes:
        s = ix.supplies[r.si]
        left.append(None if s.expiry is None else max(0, (s.expiry - ix.today).days))
    longest = max((d for d in left if d is not None), default=0) + 1
    return [b + scale * (1.0 if d is None else d / longest) for b, d in zip(base, left)]


def _build_model(ix: _Index, routes: list[_Route], objective: Objective) -> _Model:
    coefs = _coefficients(ix, routes, objective)
    prob = pulp.LpProblem("transfers", pulp.LpMinimize)
    add = prob.add_variable
    xs = [add(f"x{k}", 0, float(r.upper)) for k, r in enumerate(routes)]
    slack = [add(f"u{di}", 0, float(d.quantity)) for di, d in enumerate(ix.demands)]

    by_lot: dict[int, list[int]] = defaultdict(list)
    by_demand: dict[int, list[int]] = defaultdict(list)
    by_lane: dict[int, list[int]] = defaultdict(list)
    by_export: dict[tuple, list[int]] = defaultdict(list)
    for k, r in enumerate(routes):
        by_lot[r.si].append(k)
        by_demand[r.di].append(k)
        if r.li >= 0:
            by_lane[r.li].append(k)
            s = ix.supplies[r.si]
            by_export[(s.warehouse, s.product)].append(k)

    LE, EQ = pulp.LpConstraintLE, pulp.LpConstraintEQ
    Expr, Constraint = pulp.LpAffineExpression, pulp.LpConstraint
    constraints = []

    def add_constraint(terms: list, sense: int, rhs: float, name: str) -> None:
        constraints.append(Constraint(Expr(terms), sense, name, rhs))

    for si, ks in by_lot.items():
        qty = ix.supplies[si].quantity
        if sum(routes[k].upper for k in ks) > qty:
            add_constraint([(xs[k], 1) for k in ks], LE, float(qty), f"lot{si}")
    for di, d in enumerate(ix.demands):
        terms = [(xs[k], 1) for k in by_demand.get(di, ())]
        terms.append((slack[di], 1))
        add_constraint(terms, EQ, float(d.quantity), f"dem{di}")
    for n, (key, ks) in enumerate(by_export.items()):
        cap = ix.export_cap[key]
        if sum(routes[k].upper for k in ks) > cap:
            add_constraint([(xs[k], 1) for k in ks], LE, float(cap), f"exp{n}")

    objective_terms = list(zip(xs, coefs))
    wc = float(objective.cost)
    integer_vars = []
    worst_unit = max(coefs, default=0.0)
    for li, ks in by_lane.items():
        lane = ix.lanes[li]
        reach = sum((routes[k].upper for k in ks), Decimal(0))
        bound = reach if lane.capacity is None else min(lane.capacity, reach)
        flow = [(xs[k], 1) for k in ks]
        if wc and lane.fixed_cost > 0:
            # Open the lane (pay its fixed cost) to carry anything; carry at most its bound.
            y = add(f"y{li}", cat=pulp.LpBinary)
            integer_vars.append((y, [xs[k] for k in ks], None))
            objective_terms.append((y, wc * float(lane.fixed_cost)))
            add_constraint(flow + [(y, -float(bound))], LE, 0.0, f"open{li}")
        elif lane.capacity is not None and lane.capacity < reach:
            add_constraint(flow, LE, float(lane.capacity), f"cap{li}")
        if wc and lane.vehicle_capacity is not None:
            most = math.ceil(bound / lane.vehicle_capacity)
            n = add(f"v{li}", 0, most, cat=pulp.LpInteger)
            integer_vars.append((n, [xs[k] for k in ks], float(lane.vehicle_capacity)))
            objective_terms.append((n, wc * float(lane.vehicle_cost)))
            add_constraint(flow + [(n, -float(lane.vehicle_capacity))], LE, 0.0, f"veh{li}")
        worst_unit = max(worst_unit, max(coefs[k] for k in ks)
                         + wc * float(lane.fixed_cost + lane.vehicle_cost))
    for c in constraints:
        prob.addConstraint(c)
    # One unit met always beats one unit unmet, however it is met.
    penalty = 2.0 * worst_unit + 1.0
    penalized = Expr(objective_terms + [(u, penalty) for u in slack])
    return _Model(prob, xs, slack, Expr(objective_terms), penalized, integer_vars,
                  bool(integer_vars), len(xs) + len(slack) + len(integer_vars), len(constraints))


# --------------------------------------------------------------------------- solve


@dataclass(frozen=True)
class _Outcome:
    solver: str
    status: str
    optimal: bool
    time_limited: bool
    gap: Optional[float]
    seconds: Optional[float] = None  # inside the solver itself, when it says


def _solve(model: _Model, options: SolverOptions, run: Any) -> _Outcome:
    """Solve ``model``, checking the solver's status; never assume optimal.

    An LP is solved once, unmet demand carrying a penalty larger than any
    cost of meeting it. A MILP is solved in two phases, so its gap is a gap
    on the objective itself and not on a penalty: (1) the LP relaxation with
    only unmet demand as objective gives the least demand that must stay
    unmet (exact: opening a lane or adding a vehicle only costs money);
    (2) the MILP on the chosen objective with unmet demand capped at that,
    started from phase 1's plan (lanes opened, vehicles rounded up; both
    solvers take it), so a time-limited run has a plan to return. The time
    limit covers both phases.
    """
    limit = options.time_limit_seconds
    if not model.is_mip:
        model.prob.setObjective(model.penalized)
        return run(model, options, mip=False, time_limit=limit, start=None)
    started = time.perf_counter()
    model.prob.setObjective(pulp.LpAffineExpression([(u, 1) for u in model.slack]))
    first = run(model, options, mip=False, time_limit=limit, start=None)
    if not first.optimal:
        raise _failed(first.solver, f"{first.status} (finding how much demand can be met)")
    least_unmet = sum(u.varValue or 0.0 for u in model.slack)
    start = [(x, x.varValue or 0.0) for x in model.flow_vars]
    start += [(u, u.varValue or 0.0) for u in model.slack]
    for var, flows, per_vehicle in model.integer_vars:
        carried = sum(x.varValue or 0.0 for x in flows)
        if per_vehicle is None:
            start.append((var, 1.0 if carried > 1e-9 else 0.0))
        else:
            start.append((var, float(math.ceil(carried / per_vehicle - 1e-9))))
    model.prob.addConstraint(pulp.LpConstraint(
        pulp.LpAffineExpression([(u, 1) for u in model.slack]), pulp.LpConstraintLE,
        "least_unmet", least_unmet + 1e-6 * (len(model.slack) + least_unmet)))
    model.prob.setObjective(model.objective)
    if limit is not None:
        limit = max(limit - (time.perf_counter() - started), 0.01)
    second = run(model, options, mip=True, time_limit=limit, start=start)
    if first.seconds is None or second.seconds is None:
        return second
    return dataclasses.replace(second, seconds=first.seconds + second.seconds)


def _pick_solver(options: SolverOptions) -> Any:
    """The function that runs the solver to use: HiGHS, else CBC; or raise."""
    if pulp is None:
        raise SolverUnavailable("the optimizer needs PuLP, which is not installed here",
                                zh="优化器需要 PuLP，但此服务器未安装")
    if options.solver == "highs" and highspy is not None and pulp.HiGHS(msg=False).available():
        return _run_highs
    if _cbc(options, None, None, True).available():
        return _run_cbc
    wanted = "HiGHS (highspy) or CBC" if options.solver == "highs" else "CBC"
    raise SolverUnavailable(
        f"no solver available: {wanted} cannot be run on this server",
        details={"requested": options.solver},
        zh=f"没有可用的求解器：服务器上无法运行 {wanted}",
    )


def _failed(solver: str, status: str) -> SolverFailed:
    en = f"the {solver} solver ended without a usable plan (status: {status}); nothing was changed"
    zh = f"求解器 {solver} 未能给出可用方案（状态：{status}）；未做任何更改"
    if "time" in status.lower():
        en += "; allow it more time"
        zh += "；请放宽求解时间上限"
    return SolverFailed(en, details={"solver": solver, "status": status}, zh=zh)


def _run_highs(model: _Model, options: SolverOptions, *, mip: bool,
               time_limit: Optional[float], start: Optional[list]) -> _Outcome:
    solver = _bulk_highs()(start=start, mip=mip, msg=False, timeLimit=time_limit,
                           gapRel=options.mip_gap, threads=options.threads)
    try:
        model.prob.solve(solver)
    except pulp.PulpSolverError as e:
        raise _failed("HiGHS", str(e)) from e
    h = model.prob.solverModel
    status = h.getModelStatus()
    text = h.modelStatusToString(status)
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    S = highspy.HighsModelStatus
    seconds = h.getRunTime()
    if status == S.kOptimal and has_solution:
        return _Outcome("highs", text, True, False, _finite(info.mip_gap) if mip else 0.0,
                        seconds)
    if status in (S.kTimeLimit, S.kIterationLimit, S.kInterrupt) and has_solution and mip:
        return _Outcome("highs", text, False, status == S.kTimeLimit, _finite(info.mip_gap),
                        seconds)
    raise _failed("HiGHS", text)


_BULK_HIGHS = None


def _bulk_highs() -> type:
    """PuLP's HiGHS interface, passing the model to HiGHS in bulk.

    ``pulp.HiGHS.buildSolverModel`` adds each column and each row with its own
    call into highspy; on the bench LP (34k columns) that took longer than
    HiGHS took to solve. This subclass hands over all columns, all rows and
    the integrality in three calls, and can give a MILP a starting solution.
    Reading the solution back and mapping the status stay PuLP's.
    """
    global _BULK_HIGHS
    if _BULK_HIGHS is not None:
        return _BULK_HIGHS

    class BulkHiGHS(pulp.HiGHS):
        def __init__(self, start: Optional[list] = None, **kwargs: Any):
            super().__init__(**kwargs)
            self.start = start

        def buildSolverModel(self, lp: Any) -> None:
            inf = highspy.kHighsInf
            variables = lp.variables()
            objective = lp.objective
            for i, v in enumerate(variables):
                v.index = i
            lp.solverModel.addCols(
                len(variables),
                [float(objective.get(v, 0.0)) for v in variables],
                [-inf if v.lowBound is None else v.lowBound for v in variables],
                [inf if v.upBound is None else v.upBound for v in variables],
                0, [0] * len(variables), [], [])
            starts, index, value, lower, upper = [], [], [], [], []
            for i, c in enumerate(lp.constraints()):
                c.index = i
                starts.append(len(index))
                for v, a in c.items():
                    if a:
                        index.append(v.index)
                        value.append(a)
                lb, ub = c.getLb(), c.getUb()
                lower.append(-inf if lb is None else lb)
                upper.append(inf if ub is None else ub)
            lp.solverModel.addRows(len(starts), lower, upper, len(index), starts, index, value)
            integers = [v.index for v in variables if v.cat == pulp.LpInteger]
            if integers and self.mip:
                kind = int(highspy.HighsVarType.kInteger)
                lp.solverModel.changeColsIntegrality(len(integers), integers,
                                                     [kind] * len(integers))
                if self.start:
                    lp.solverModel.setSolution(len(self.start), [v.index for v, _ in self.start],
                                               [x for _, x in self.start])

    _BULK_HIGHS = BulkHiGHS
    return BulkHiGHS


def _finite(value: float) -> Optional[float]:
    value = float(value)
    return value if math.isfinite(value) else None


def _cbc(options: SolverOptions, log_path: Optional[str], time_limit: Optional[float],
         mip: bool, warm_start: bool = False) -> Any:
    """CBC on the PATH when there is one, else the binary bundled with PuLP."""
    kwargs = dict(mip=mip, msg=False, timeLimit=time_limit, gapRel=options.mip_gap,
                  threads=options.threads, logPath=log_path, warmStart=warm_start)
    coin = pulp.COIN_CMD(**kwargs)
    if coin.available():
        return coin
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated for PuLP 4.0; still the bundled binary
        return pulp.PULP_CBC_CMD(**kwargs)


def _run_cbc(model: _Model, options: SolverOptions, *, mip: bool,
             time_limit: Optional[float], start: Optional[list]) -> _Outcome:
    if start and mip:
        # PuLP writes the variables' current values as CBC's MIP start.
        for var, value in start:
            var.setInitialValue(value, check=False)
    with tempfile.TemporaryDirectory(prefix="medtrace-cbc-") as folder:
        log_path = os.path.join(folder, "cbc.log")
        solver = _cbc(options, log_path, time_limit, mip, warm_start=bool(start and mip))
        try:
            model.prob.solve(solver)
        except pulp.PulpSolverError as e:
            raise _failed("CBC", str(e)) from e
        try:
            with open(log_path, encoding="utf-8", errors="replace") as f:
                log = f.read()
        except OSError:
            log = ""
    status = pulp.LpStatus.get(model.prob.status, str(model.prob.status))
    result = re.search(r"^Result - (.+)$", log, re.MULTILINE)
    text = result.group(1).strip() if result else status
    sol = model.prob.sol_status
    if model.prob.status == pulp.LpStatusOptimal and sol == pulp.LpSolutionOptimal:
        return _Outcome("cbc", text, True, False, _cbc_gap(log) if mip else 0.0)
    if (mip and model.prob.status == pulp.LpStatusOptimal
            and sol == pulp.LpSolutionIntegerFeasible):
        # "Stopped on time limit" (or nodes, iterations): a plan, not proven optimal.
        return _Outcome("cbc", text, False, "time" in text.lower(), _cbc_gap(log))
    raise _failed("CBC", text)


def _cbc_gap(log: str) -> Optional[float]:
    """Relative gap from CBC's summary: its "Gap:" line (printed when it stops
    within the tolerance or at a limit); 0 when the search completed with no
    gap left ("Optimal solution found" without "within gap tolerance"); else
    from objective and bound; None when the log says neither."""
    gap = re.search(r"^Gap:\s*([-0-9.eE+]+)", log, re.MULTILINE)
    if gap:
        return float(gap.group(1))
    if re.search(r"^Result - Optimal solution found\s*$", log, re.MULTILINE):
        return 0.0
    obj = re.search(r"^Objective value:\s*([-0-9.eE+]+)", log, re.MULTILINE)
    bound = re.search(r"^Lower bound:\s*([-0-9.eE+]+)", log, re.MULTILINE)
    if obj and bound:
        o, b = float(obj.group(1)), float(bound.group(1))
        return abs(o - b) / max(abs(o), 1e-9)
    return None


# --------------------------------------------------------------------------- rounding


def _rounded_flows(ix: _Index, routes: list[_Route], values: list[float]) -> list[Decimal]:
    """Solver floats -> Decimals in each product's unit, never over any bound.

    Per demand, largest remainders: the demand gets the nearest whole total
    of its flows, spread over the flows with the largest fractions. Then every
    upper bound (lot, demand, lane capacity, what a source may ship) is
    checked in exact arithmetic and any excess is taken back from the flows
    that were rounded up the most.
    """
    n = len(routes)
    units = [0] * n
    quanta = [ix.problem.quantum(ix.supplies[r.si].product) for r in routes]
    by_demand: dict[int, list[int]] = defaultdict(list)
    for k, r in enumerate(routes):
        by_demand[r.di].append(k)
    scaled = [max(0.0, values[k]) / float(quanta[k]) for k in range(n)]
    for ks in by_demand.values():
        floors = {k: math.floor(scaled[k] + 1e-6) for k in ks}
        # Nearest whole total: a demand met to within solver tolerance counts as met.
        target = math.floor(sum(scaled[k] for k in ks) + 0.5)
        extra = target - sum(floors.values())
        order = sorted(ks, key=lambda k: (-(scaled[k] - floors[k]), k))
        for k in order[:max(0, extra)]:
            floors[k] += 1
        for k in ks:
            units[k] = floors[k]
    with decimal.localcontext(_EXACT):
        flows = [quanta[k] * units[k] for k in range(n)]
        for k, r in enumerate(routes):
            if flows[k] > r.upper:
                flows[k] = _floor_to(r.upper, quanta[k])
        groups: list[tuple[list[int], Decimal]] = []
        lots: dict[int, list[int]] = defaultdict(list)
        lanes: dict[int, list[int]] = defaultdict(list)
        exports: dict[tuple, list[int]] = defaultdict(list)
        for k, r in enumerate(routes):
            lots[r.si].append(k)
            if r.li >= 0:
                lanes[r.li].append(k)
                s = ix.supplies[r.si]
                exports[(s.warehouse, s.product)].append(k)
        groups += [(ks, ix.supplies[si].quantity) for si, ks in lots.items()]
        groups += [(ks, ix.demands[di].quantity) for di, ks in by_demand.items()]
        groups += [(ks, ix.lanes[li].capacity) for li, ks in lanes.items()
                   if ix.lanes[li].capacity is not None]
        groups += [(ks, ix.export_cap[key]) for key, ks in exports.items()]
        for ks, bound in groups:
            over = sum((flows[k] for k in ks), Decimal(0)) - bound
            if over <= 0:
                continue
            # Take back from the flows rounded up the most (then the smallest index).
            order = sorted(ks, key=lambda k: (-(float(flows[k]) - values[k]), k))
            while over > 0:
                for k in order:
                    if flows[k] <= 0:
                        continue
                    cut = min(flows[k], _ceil_to(over, quanta[k]))
                    flows[k] -= cut
                    over -= cut
                    if over <= 0:
                        break
        return flows


def _floor_to(value: Decimal, quantum: Decimal) -> Decimal:
    return (value / quantum).to_integral_value(rounding=decimal.ROUND_FLOOR) * quantum


def _ceil_to(value: Decimal, quantum: Decimal) -> Decimal:
    return (value / quantum).to_integral_value(rounding=decimal.ROUND_CEILING) * quantum


# --------------------------------------------------------------------------- plan


def _plan(ix: _Index, routes: list[_Route], flows: list[Decimal], objective: Objective, *,
          status: str, optimal: bool, time_limited: bool, gap: Optional[float], solver: str,
          build: float, solve: float, variables: int = 0, constraints: int = 0) -> Plan:
    """Moves, local uses, unmet demand with reasons, shipments and totals."""
    with decimal.localcontext(_EXACT):
        moves, local = [], []
        used = [Decimal(0)] * len(ix.supplies)
        covered = [Decimal(0)] * len(ix.demands)
        lane_flow: dict[int, Decimal] = defaultdict(Decimal)
        exported: dict[tuple, Decimal] = defaultdict(Decimal)
        for r, q in zip(routes, flows):
            if q <= 0:
                continue
            s, d = ix.supplies[r.si], ix.demands[r.di]
            used[r.si] += q
            covered[r.di] += q
            if r.li < 0:
                local.append(LocalUse(d.warehouse, d.product, s.lot, q, _local_reason(ix, s, d)))
                continue
            lane = ix.lanes[r.li]
            lane_flow[r.li] += q
            exported[(s.warehouse, s.product)] += q
            moves.append(ProposedMove(
                lane.from_warehouse, lane.to_warehouse, d.product, s.lot, q,
                _move_reason(ix, s, lane, d),
                ix.today + dt.timedelta(days=lane.transit_days), d.needed_by))
        state = _State(used, lane_flow, exported, time_limited)
        unmet = []
        for di, d in enumerate(ix.demands):
            short = d.quantity - covered[di]
            if short <= 0:
                continue
            quantum = ix.problem.quantum(d.product)
            if short < quantum:
                reasons = [_rounding_reason(d, short, quantum)]
            else:
                reasons = _unmet_reasons(ix, d, state)
            unmet.append(UnmetDemand(d.warehouse, d.product, short, d.needed_by,
                                     tuple(reasons)))
        shipments = []
        for li in sorted(lane_flow, key=lambda li: (str(ix.lanes[li].from_warehouse),
                                                    str(ix.lanes[li].to_warehouse))):
            lane, q = ix.lanes[li], lane_flow[li]
            vehicles = None
            cost = lane.cost_per_unit * q + lane.fixed_cost
            if lane.vehicle_capacity is not None:
                vehicles = int(_ceil_to(q, lane.vehicle_capacity) / lane.vehicle_capacity)
                cost += lane.vehicle_cost * vehicles
            shipments.append(Shipment(lane.from_warehouse, lane.to_warehouse, q, vehicles, cost))
        horizon = ix.horizon()
        expiring = sum((s.quantity - used[si] for si, s in enumerate(ix.supplies)
                        if s.expiry is not None and ix.today <= s.expiry <= horizon
                        and s.quantity > used[si]), Decimal(0))
        unit_days = sum((q * ix.lanes[r.li].transit_days
                         for r, q in zip(routes, flows) if q > 0 and r.li >= 0), Decimal(0))
        used_lanes = [ix.lanes[li] for li in lane_flow]
        unit_km = None
        if all(l.distance_km is not None for l in used_lanes):
            unit_km = sum((lane_flow[li] * ix.lanes[li].distance_km for li in lane_flow),
                          Decimal(0))
        totals = Totals(
            cost=sum((s.cost for s in shipments), Decimal(0)),
            transit_unit_days=unit_days,
            unit_km=unit_km,
            moved=sum((m.quantity for m in moves), Decimal(0)),
            covered_locally=sum((u.quantity for u in local), Decimal(0)),
            unmet=sum((u.quantity for u in unmet), Decimal(0)),
            expiring_unused=expiring,
        )
        nearest = (unit_km if ix.uses_distance and unit_km is not None else unit_days)
        value = (objective.cost * totals.cost + objective.time * unit_days
                 + objective.nearest * nearest)
    moves.sort(key=lambda m: (str(m.from_warehouse), str(m.to_warehouse), str(m.product),
                              str(m.lot), m.needed_by))
    local.sort(key=lambda u: (str(u.warehouse), str(u.product), str(u.lot)))
    return Plan(status=status, optimal=optimal, time_limited=time_limited, gap=gap,
                solver=solver, objective_name=objective.name, objective=value,
                totals=totals, moves=tuple(moves), local=tuple(local), unmet=tuple(unmet),
                shipments=tuple(shipments), build_seconds=build, solve_seconds=solve,
                variables=variables, constraints=constraints)


@dataclass
class _State:
    used: list
    lane_flow: dict
    exported: dict
    time_limited: bool


# --------------------------------------------------------------------------- reasons


def _fmt(quantity: Decimal) -> str:
    """12.000 -> '12', 1.50 -> '1.5'."""
    text = format(quantity.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _money(amount: Decimal) -> str:
    """At least two decimals: 1.2 -> '1.20', 0.125 -> '0.125'."""
    text = _fmt(amount)
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _shelf_en(left: Optional[int]) -> str:
    return "no expiry date" if left is None else f"{left} days of shelf life left"


def _shelf_zh(left: Optional[int]) -> str:
    return "无有效期" if left is None else f"剩余效期 {left} 天"


def _move_reason(ix: _Index, s: Supply, lane: Lane, d: Demand) -> dict:
    arrival = ix.today + dt.timedelta(days=lane.transit_days)
    left = s.days_left(arrival)
    days = lane.transit_days
    en = (f"{d.warehouse} needs {_fmt(d.quantity)} of {d.product} by {d.needed_by}; "
          f"lot {s.lot} from {s.warehouse} arrives in {days} day{'s' if days != 1 else ''} "
          f"({arrival}) with {_shelf_en(left)}; {_money(lane.cost_per_unit)}/unit")
    zh = (f"{d.warehouse} 需要 {d.product} {_fmt(d.quantity)} 件（{d.needed_by} 前）；"
          f"{s.warehouse} 的批次 {s.lot} {days} 天后到达（{arrival}），{_shelf_zh(left)}；"
          f"每件 {_money(lane.cost_per_unit)}")
    if lane.fixed_cost:
        en += f" plus {_money(lane.fixed_cost)} per shipment"
        zh += f"，每次发运另加 {_money(lane.fixed_cost)}"
    if lane.vehicle_capacity is not None:
        en += (f" plus {_money(lane.vehicle_cost)} per vehicle of "
               f"{_fmt(lane.vehicle_capacity)} units")
        zh += f"，每车（{_fmt(lane.vehicle_capacity)} 件）{_money(lane.vehicle_cost)}"
    if arrival > d.needed_by:
        late = (arrival - d.needed_by).days
        en += f"; arrives {late} days late"
        zh += f"；晚到 {late} 天"
    return {"en": en, "zh": zh}


def _local_reason(ix: _Index, s: Supply, d: Demand) -> dict:
    left = s.days_left(ix.today)
    return {
        "en": (f"{d.warehouse} needs {_fmt(d.quantity)} of {d.product} by {d.needed_by}; "
               f"lot {s.lot} is already at {d.warehouse} with {_shelf_en(left)}; "
               "no transfer needed"),
        "zh": (f"{d.warehouse} 需要 {d.product} {_fmt(d.quantity)} 件（{d.needed_by} 前）；"
               f"批次 {s.lot} 已在 {d.warehouse}，{_shelf_zh(left)}；无需调拨"),
    }


_REASON_ORDER = ("no_stock", "shelf_life", "no_lane", "too_late", "capacity",
                 "safety_stock", "committed", "not_planned")


def _unmet_reasons(ix: _Index, d: Demand, state: _State) -> list[dict]:
    """Why stock of ``d.product`` did not reach ``d``: each lot is classed by the
    first rule that stops it, and the reasons are grouped by rule."""
    p, w = d.product, d.warehouse
    lots = ix.by_product.get(p, [])
    if not lots:
        return [{"code": "no_stock", "en": f"no stock of {p} in any warehouse",
                 "zh": f"所有仓库都没有 {p} 的库存"}]
    found: dict[str, list] = defaultdict(list)
    for si in lots:
        s = ix.supplies[si]
        lane = None
        if s.warehouse != w:
            li = ix.lane_by_key.get((s.warehouse, w))
            if ix.blocked(s, None, d) == "shelf_life":
                found["shelf_life"].append((s, None))
                continue
            if li is None:
                found["no_lane"].append((s, None))
                continue
            lane = ix.lanes[li]
        code = ix.blocked(s, lane, d)
        if code:
            found[code].append((s, lane))
            continue
        quantum = ix.problem.quantum(p)
        if s.quantity - state.used[si] < quantum:
            found["committed"].append((s, lane))
            continue
        if lane is not None:
            li = ix.lane_by_key[lane.key]
            key = (s.warehouse, p)
            cap = ix.export_cap.get(key, Decimal(0))
            if lane.capacity is not None and state.lane_flow.get(li, 0) > lane.capacity - quantum:
                found["capacity"].append((s, lane))
                continue
            if state.exported.get(key, 0) > cap - quantum:
                if ix.problem.safety_stock.get(key, 0) > 0:
                    found["safety_stock"].append((s, lane))
                else:
                    found["committed"].append((s, lane))
                continue
        found["not_planned"].append((s, lane))
    reasons = []
    for code in _REASON_ORDER:
        if code in found:
            reasons.append(_reason_text(ix, code, d, found[code], state))
    return reasons


def _rounding_reason(d: Demand, short: Decimal, quantum: Decimal) -> dict:
    return {"code": "rounding",
            "en": (f"{_fmt(short)} of {d.product} is less than its unit ({_fmt(quantum)}); "
                   "transfers move whole units"),
            "zh": f"{_fmt(short)} 小于 {d.product} 的最小单位（{_fmt(quantum)}）；调拨按整单位进行"}


def _where(items: list) -> str:
    return ", ".join(sorted({str(s.warehouse) for s, _ in items}))


def _reason_text(ix: _Index, code: str, d: Demand, items: list, state: _State) -> dict:
    p, w = d.product, d.warehouse
    units = _fmt(sum((s.quantity for s, _ in items), Decimal(0)))
    where = _where(items)
    if code == "shelf_life":
        days = ix.min_days(p)
        best = max(items, key=lambda it: it[0].days_left(ix.today) or 0)
        s, lane = best
        arrival = ix.today + dt.timedelta(days=0 if lane is None else lane.transit_days)
        left = s.days_left(arrival)
        return {"code": code,
                "en": (f"no stock of {p} with at least {days} days of shelf life on arrival at "
                       f"{w} ({units} units at {where} have too little; best: lot {s.lot} "
                       f"at {s.warehouse}, {left} days left on {arrival})"),
                "zh": (f"没有到达 {w} 时剩余效期不少于 {days} 天的 {p} 库存（{where} 的 "
                       f"{units} 件效期不足；最好的是 {s.warehouse} 的批次 {s.lot}，"
                       f"{arrival} 时剩余 {left} 天）")}
    if code == "no_lane":
        return {"code": code,
                "en": f"no lane to {w} from {where}, where {units} units of {p} are held",
                "zh": f"{where} 有 {p} 库存 {units} 件，但没有到 {w} 的运输线路"}
    if code == "too_late":
        fastest = min(lane.transit_days for _, lane in items)
        arrival = ix.today + dt.timedelta(days=fastest)
        return {"code": code,
                "en": (f"stock of {p} at {where} cannot arrive by {d.needed_by} "
                       f"(fastest lane takes {fastest} days, arriving {arrival})"),
                "zh": (f"{where} 的 {p} 库存无法在 {d.needed_by} 前到达"
                       f"（最快线路 {fastest} 天，{arrival} 到达）")}
    if code == "capacity":
        lanes = sorted({lane.label: lane for _, lane in items}.items())
        en = "; ".join(f"lane {label} is at its capacity of {_fmt(lane.capacity)} units"
                       for label, lane in lanes)
        zh = "；".join(f"线路 {label} 已达运力上限 {_fmt(lane.capacity)} 件"
                       for label, lane in lanes)
        return {"code": code, "en": en, "zh": zh}
    if code == "safety_stock":
        parts_en, parts_zh = [], []
        for wh in sorted({str(s.warehouse) for s, _ in items}):
            s = next(s for s, _ in items if str(s.warehouse) == wh)
            key = (s.warehouse, p)
            keep = ix.problem.safety_stock.get(key, Decimal(0))
            own = ix.own_demand.get(key, Decimal(0))
            en = f"{wh} holds back {_fmt(keep)} of {p} as safety stock"
            zh = f"{wh} 需保留 {p} 安全库存 {_fmt(keep)} 件"
            if own:
                en += f" (and {_fmt(own)} for its own demand)"
                zh += f"（另留 {_fmt(own)} 件供本仓需求）"
            parts_en.append(en)
            parts_zh.append(zh)
        return {"code": code, "en": "; ".join(parts_en), "zh": "；".join(parts_zh)}
    if code == "committed":
        return {"code": code,
                "en": f"all suitable stock of {p} at {where} is already planned for demand",
                "zh": f"{where} 符合条件的 {p} 库存已全部安排给需求"}
    why_en = " before its time limit" if state.time_limited else ""
    why_zh = "（求解器在时间上限前未找到更好的方案）" if state.time_limited else ""
    return {"code": "not_planned",
            "en": f"{units} suitable units at {where} were not planned by the solver{why_en}",
            "zh": f"{where} 有 {units} 件符合条件的库存未被安排{why_zh}"}


# --------------------------------------------------------------------------- naive


def naive_plan(problem: TransferProblem, objective: "Objective | str" = "cost") -> Plan:
    """The plan a person would make by hand, for comparison.

    Demands in order of ``needed_by`` (then warehouse, product): local stock
    first, then the nearest warehouse holding the product (by distance when
    every lane has one, else transit days; ties by warehouse), its lots
    first-expiry-first, taking as much as the lot, the lane's capacity and the
    source's surplus allow. Same shelf-life, on-time, safety-stock and capacity
    rules as ``optimize``. ``objective`` only sets which value
    ``Plan.objective`` reports.
    """
    objective = Objective.parse(objective)
    started = time.perf_counter()
    ix = _Index(problem)
    routes: list[_Route] = []
    flows: list[Decimal] = []
    with decimal.localcontext(_EXACT):
        left = [s.quantity for s in ix.supplies]
        lane_left = {li: lane.capacity for li, lane in enumerate(ix.lanes)}
        export_left = dict(ix.export_cap)
        order = sorted(range(len(ix.demands)), key=lambda di: (
            ix.demands[di].needed_by, str(ix.demands[di].warehouse),
            str(ix.demands[di].product), di))
        for di in order:
            d = ix.demands[di]
            quantum = problem.quantum(d.product)
            need = _floor_to(d.quantity, quantum)
            options: list[tuple[int, int]] = [
                (si, -1) for si in ix.by_wp.get((d.warehouse, d.product), ())]
            incoming = sorted(ix.lanes_into.get(d.warehouse, ()), key=lambda li: (
                ix.nearest_metric(ix.lanes[li]), str(ix.lanes[li].from_warehouse)))
            for li in incoming:
                options += [(si, li) for si in
                            ix.by_wp.get((ix.lanes[li].from_warehouse, d.product), ())]
            for si, li in options:
                if need <= 0:
                    break
                s = ix.supplies[si]
                lane = None if li < 0 else ix.lanes[li]
                if ix.blocked(s, lane, d):
                    continue
                take = min(need, left[si])
                if lane is not None:
                    key = (s.warehouse, d.product)
                    take = min(take, export_left.get(key, Decimal(0)))
                    if lane_left[li] is not None:
                        take = min(take, lane_left[li])
                take = _floor_to(take, quantum)
                if take <= 0:
                    continue
                routes.append(_Route(si, li, di, take))
                flows.append(take)
                need -= take
                left[si] -= take
                if lane is not None:
                    export_left[(s.warehouse, d.product)] -= take
                    if lane_left[li] is not None:
                        lane_left[li] -= take
    return _plan(ix, routes, flows, objective, status="naive (nearest first)", optimal=False,
                 time_limited=False, gap=None, solver="naive",
                 build=0.0, solve=time.perf_counter() - started)


# --------------------------------------------------------------------------- compare


@dataclass(frozen=True)
class ComparisonRow:
    measure: str
    label: dict
    optimizer: Optional[Decimal]
    naive: Optional[Decimal]

    @property
    def difference(self) -> Optional[Decimal]:
        """optimizer - naive (negative: the optimizer is lower)."""
        if self.optimizer is None or self.naive is None:
            return None
        return self.optimizer - self.naive


_MEASURES = (
    ("cost", {"en": "total cost", "zh": "总成本"}),
    ("transit_unit_days", {"en": "total transit days (units × days)", "zh": "运输总天数（件 × 天）"}),
    ("expiring_unused", {"en": "units expiring unused", "zh": "到期未用数量"}),
    ("unmet", {"en": "unmet demand (units)", "zh": "未满足需求（件）"}),
    ("moved", {"en": "units transferred", "zh": "调拨数量"}),
)


def compare(plan: Plan, naive: Plan) -> tuple[ComparisonRow, ...]:
    """Totals of two plans side by side ("optimizer vs naive") for the UI."""
    return tuple(ComparisonRow(measure, label, getattr(plan.totals, measure),
                               getattr(naive.totals, measure))
                 for measure, label in _MEASURES)
