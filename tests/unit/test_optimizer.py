"""Transfer optimizer: hand-computed optima, the rules (shelf life, safety stock,
capacity), reasons for unmet demand, solver status and the CBC fallback."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal as D

import pytest

from app.domain import optimizer as opt
from app.domain.errors import DomainError, ValidationFailed
from app.domain.optimizer import (
    Demand,
    Lane,
    Objective,
    SolverFailed,
    SolverOptions,
    SolverUnavailable,
    Supply,
    TransferProblem,
    compare,
    naive_plan,
    optimize,
)

TODAY = dt.date(2027, 1, 4)
SOON = TODAY + dt.timedelta(days=10)
LATER = TODAY + dt.timedelta(days=20)
FAR = dt.date(2029, 1, 1)
P = "SYR-0003"


def problem(supplies, demands, lanes, **kw) -> TransferProblem:
    return TransferProblem(supplies, demands, lanes, TODAY, **kw)


def moved(plan, lot=None, frm=None, to=None) -> D:
    return sum((m.quantity for m in plan.moves
                if (lot is None or m.lot == lot) and (frm is None or m.from_warehouse == frm)
                and (to is None or m.to_warehouse == to)), D(0))


# --------------------------------------------------------------------------- (a)


def crossing_problem() -> TransferProblem:
    """GZ01 (needed first) and BJ01 each need 100; SH01 and WH01 each hold 100.

    SH01 is one day from both, 1.00/unit. WH01 is 2 days / 1.50 from GZ01 and
    3 days / 4.00 from BJ01. Nearest first serves GZ01 from SH01 (the nearest),
    leaving BJ01 to WH01: 100 x 1.00 + 100 x 4.00 = 500.00, 100x1 + 100x3 = 400
    unit-days. The optimum swaps them: GZ01 from WH01 (150.00), BJ01 from SH01
    (100.00) = 250.00, 100x2 + 100x1 = 300 unit-days. (The only other vertex,
    SH01->GZ01 and WH01->BJ01, is the naive 500.00.)
    """
    return problem(
        [Supply("SH01", P, "L-SH", D(100), FAR), Supply("WH01", P, "L-WH", D(100), FAR)],
        [Demand("GZ01", P, D(100), SOON), Demand("BJ01", P, D(100), LATER)],
        [Lane("SH01", "GZ01", 1, D("1.00")), Lane("WH01", "GZ01", 2, D("1.50")),
         Lane("SH01", "BJ01", 1, D("1.00")), Lane("WH01", "BJ01", 3, D("4.00"))])


def test_optimizer_beats_naive_on_a_hand_computed_case():
    prob = crossing_problem()
    plan, naive = optimize(prob), naive_plan(prob)

    assert plan.optimal and not plan.time_limited and plan.gap == 0.0
    assert plan.status == "Optimal" and plan.solver == "highs"
    assert plan.totals.cost == D("250.00")
    assert plan.totals.transit_unit_days == D(300)
    assert plan.objective == D("250.00")
    assert {(m.from_warehouse, m.to_warehouse, m.lot, m.quantity) for m in plan.moves} == {
        ("WH01", "GZ01", "L-WH", D(100)), ("SH01", "BJ01", "L-SH", D(100))}

    assert naive.totals.cost == D("500.00")
    assert naive.totals.transit_unit_days == D(400)
    assert {(m.from_warehouse, m.to_warehouse) for m in naive.moves} == {
        ("SH01", "GZ01"), ("WH01", "BJ01")}
    assert not naive.optimal

    rows = {r.measure: r for r in compare(plan, naive)}
    assert (rows["cost"].optimizer, rows["cost"].naive, rows["cost"].difference) == (
        D("250.00"), D("500.00"), D("-250.00"))
    assert rows["transit_unit_days"].difference == D(-100)
    assert rows["expiring_unused"].optimizer == rows["expiring_unused"].naive == 0
    assert rows["unmet"].optimizer == rows["unmet"].naive == 0
    assert rows["cost"].label == {"en": "total cost", "zh": "总成本"}


def test_each_move_says_why_in_both_languages():
    plan = optimize(crossing_problem())
    move = next(m for m in plan.moves if m.to_warehouse == "GZ01")
    assert move.reason["en"] == (
        "GZ01 needs 100 of SYR-0003 by 2027-01-14; lot L-WH from WH01 arrives in 2 days "
        "(2027-01-06) with 726 days of shelf life left; 1.50/unit")
    assert move.reason["zh"] == (
        "GZ01 需要 SYR-0003 100 件（2027-01-14 前）；WH01 的批次 L-WH 2 天后到达"
        "（2027-01-06），剩余效期 726 天；每件 1.50")
    assert move.arrives_on == dt.date(2027, 1, 6)


def test_local_stock_counts_first_and_is_free():
    prob = problem(
        [Supply("GZ01", P, "L-LOCAL", D(30), FAR), Supply("SH01", P, "L-SH", D(100), FAR)],
        [Demand("GZ01", P, D(50), SOON)],
        [Lane("SH01", "GZ01", 1, D("2.00"))])
    plan = optimize(prob)
    assert [(u.warehouse, u.lot, u.quantity) for u in plan.local] == [("GZ01", "L-LOCAL", D(30))]
    assert moved(plan) == D(20) and plan.totals.cost == D("40.00")
    assert plan.totals.covered_locally == D(30)
    assert "no transfer needed" in plan.local[0].reason["en"]
    assert "无需调拨" in plan.local[0].reason["zh"]


# --------------------------------------------------------------------------- (b)


def test_lot_arriving_with_too_little_shelf_life_is_not_used():
    # L-SHORT at SH01 is cheap and near but would arrive (2 days) with 28 days left;
    # the product needs 30. L-LONG at WH01 is dearer and is the one used.
    prob = problem(
        [Supply("SH01", P, "L-SHORT", D(100), TODAY + dt.timedelta(days=30)),
         Supply("WH01", P, "L-LONG", D(100), FAR)],
        [Demand("GZ01", P, D(40), SOON)],
        [Lane("SH01", "GZ01", 2, D("1.00")), Lane("WH01", "GZ01", 3, D("5.00"))],
        min_shelf_days={P: 30})
    plan = optimize(prob)
    assert moved(plan, lot="L-SHORT") == 0
    assert moved(plan, lot="L-LONG") == D(40)
    assert naive_plan(prob).moves[0].lot == "L-LONG"

    # Same lot, one day closer: it arrives with 29 days; still too few.
    only_short = problem(
        [Supply("SH01", P, "L-SHORT", D(100), TODAY + dt.timedelta(days=30))],
        [Demand("GZ01", P, D(40), SOON)],
        [Lane("SH01", "GZ01", 1, D("1.00"))],
        min_shelf_days={P: 30})
    plan = optimize(only_short)
    assert plan.moves == ()
    [unmet] = plan.unmet
    assert unmet.quantity == D(40) and unmet.codes == ("shelf_life",)
    assert "at least 30 days of shelf life on arrival at GZ01" in unmet.reasons[0]["en"]
    assert "29 days left on 2027-01-05" in unmet.reasons[0]["en"]
    assert "剩余效期不少于 30 天" in unmet.reasons[0]["zh"]

    # With a 29-day minimum it may go.
    ok = problem(only_short.supplies, only_short.demands, only_short.lanes,
                 min_shelf_days={P: 29})
    assert moved(optimize(ok), lot="L-SHORT") == D(40)


def test_local_lot_below_minimum_shelf_life_is_not_used_either():
    prob = problem([Supply("GZ01", P, "L-OLD", D(10), TODAY + dt.timedelta(days=5))],
                   [Demand("GZ01", P, D(10), SOON)], [], min_shelf_days={P: 30})
    plan = optimize(prob)
    assert plan.local == () and plan.unmet[0].codes == ("shelf_life",)


# --------------------------------------------------------------------------- (c)


def test_safety_stock_stays_at_the_source():
    prob = problem([Supply("SH01", P, "L1", D(100), FAR)],
                   [Demand("GZ01", P, D(50), SOON)],
                   [Lane("SH01", "GZ01", 1, D("1.00"))],
                   safety_stock={("SH01", P): D(70)})
    for plan in (optimize(prob), naive_plan(prob)):
        assert moved(plan) == D(30)
        [unmet] = plan.unmet
        assert unmet.quantity == D(20) and unmet.codes == ("safety_stock",)
        assert unmet.reasons[0]["en"] == "SH01 holds back 70 of SYR-0003 as safety stock"
        assert unmet.reasons[0]["zh"] == "SH01 需保留 SYR-0003 安全库存 70 件"


def test_a_source_keeps_its_own_demand_as_well_as_its_safety_stock():
    prob = problem([Supply("SH01", P, "L1", D(100), FAR)],
                   [Demand("GZ01", P, D(50), SOON), Demand("SH01", P, D(20), SOON)],
                   [Lane("SH01", "GZ01", 1, D("1.00"))],
                   safety_stock={("SH01", P): D(70)})
    plan = optimize(prob)
    assert moved(plan) == D(10)
    assert plan.totals.covered_locally == D(20)
    assert "(and 20 for its own demand)" in plan.unmet[0].reasons[0]["en"]


# --------------------------------------------------------------------------- (d)


def test_lane_capacity_is_respected_across_products():
    # SH01 -> GZ01 is cheap but carries 25 units per period, all products together.
    prob = problem(
        [Supply("SH01", P, "L1", D(100), FAR), Supply("SH01", "GLV-0004", "G1", D(100), FAR),
         Supply("WH01", P, "L2", D(100), FAR), Supply("WH01", "GLV-0004", "G2", D(100), FAR)],
        [Demand("GZ01", P, D(40), SOON), Demand("GZ01", "GLV-0004", D(10), SOON)],
        [Lane("SH01", "GZ01", 1, D("1.00"), capacity=D(25)),
         Lane("WH01", "GZ01", 2, D("3.00"))])
    plan = optimize(prob)
    assert moved(plan, frm="SH01") == D(25)
    assert moved(plan, frm="WH01") == D(25)
    assert plan.totals.cost == D("100.00")  # 25 x 1.00 + 25 x 3.00
    assert plan.totals.unmet == 0
    naive = naive_plan(prob)
    assert moved(naive, frm="SH01") == D(25)


# --------------------------------------------------------------------------- (e)


def test_unmet_demand_says_no_lane():
    # BJ01 holds the stock but has no lane to GZ01; SH01 has a lane but no stock.
    prob = problem([Supply("BJ01", P, "L1", D(100), FAR)],
                   [Demand("GZ01", P, D(40), SOON)],
                   [Lane("SH01", "GZ01", 1, D("1.00")), Lane("BJ01", "SH01", 1, D("1.00"))])
    [unmet] = optimize(prob).unmet
    assert unmet.quantity == D(40) and unmet.codes == ("no_lane",)
    assert unmet.reasons[0]["en"] == (
        "no lane to GZ01 from BJ01, where 100 units of SYR-0003 are held")
    assert unmet.reasons[0]["zh"] == "BJ01 有 SYR-0003 库存 100 件，但没有到 GZ01 的运输线路"


def test_unmet_demand_says_lane_capacity_is_exhausted():
    prob = problem([Supply("SH01", P, "L1", D(100), FAR)],
                   [Demand("GZ01", P, D(40), SOON)],
                   [Lane("SH01", "GZ01", 1, D("1.00"), capacity=D(25))])
    plan = optimize(prob)
    [unmet] = plan.unmet
    assert moved(plan) == D(25)
    assert unmet.quantity == D(15) and unmet.codes == ("capacity",)
    assert unmet.reasons[0]["en"] == "lane SH01→GZ01 is at its capacity of 25 units"
    assert unmet.reasons[0]["zh"] == "线路 SH01→GZ01 已达运力上限 25 件"


def test_unmet_demand_says_no_stock_with_enough_shelf_life_and_no_stock_at_all():
    prob = problem([Supply("SH01", P, "L1", D(100), TODAY + dt.timedelta(days=10))],
                   [Demand("GZ01", P, D(40), SOON), Demand("GZ01", "CAT-0001", D(5), SOON)],
                   [Lane("SH01", "GZ01", 1, D("1.00"))], min_shelf_days={P: 30})
    plan = optimize(prob)
    reasons = {(u.product, u.quantity): u.codes for u in plan.unmet}
    assert reasons == {(P, D(40)): ("shelf_life",), ("CAT-0001", D(5)): ("no_stock",)}
    no_stock = next(u for u in plan.unmet if u.product == "CAT-0001")
    assert no_stock.reasons[0]["zh"] == "所有仓库都没有 CAT-0001 的库存"


def test_unmet_demand_lists_every_reason_that_applies():
    prob = problem(
        [Supply("SH01", P, "L1", D(10), FAR),                          # capacity
         Supply("BJ01", P, "L2", D(10), FAR),                          # no lane
         Supply("WH01", P, "L3", D(10), TODAY + dt.timedelta(days=3))],  # shelf life
        [Demand("GZ01", P, D(40), SOON)],
        [Lane("SH01", "GZ01", 1, D("1.00"), capacity=D(5)),
         Lane("WH01", "GZ01", 1, D("1.00"))], min_shelf_days={P: 10})
    [unmet] = optimize(prob).unmet
    assert unmet.quantity == D(35)
    assert unmet.codes == ("shelf_life", "no_lane", "capacity")


def test_transfers_must_arrive_by_the_date_needed_unless_late_is_allowed():
    supplies = [Supply("SH01", P, "L1", D(100), FAR)]
    demands = [Demand("GZ01", P, D(40), TODAY + dt.timedelta(days=2))]
    lanes = [Lane("SH01", "GZ01", 5, D("1.00"))]
    [unmet] = optimize(problem(supplies, demands, lanes)).unmet
    assert unmet.codes == ("too_late",)
    assert "fastest lane takes 5 days, arriving 2027-01-09" in unmet.reasons[0]["en"]
    late = optimize(problem(supplies, demands, lanes, allow_late=True))
    assert moved(late) == D(40) and "arrives 3 days late" in late.moves[0].reason["en"]


# --------------------------------------------------------------------------- objectives


def two_routes(**lane_kw) -> TransferProblem:
    # FAST: 1 day, 5.00/unit, 300 km. CHEAP: 5 days, 1.00/unit, 100 km.
    return problem([Supply("FAST", P, "LF", D(100), FAR), Supply("CHEAP", P, "LC", D(100), FAR)],
                   [Demand("GZ01", P, D(10), SOON)],
                   [Lane("FAST", "GZ01", 1, D("5.00"), distance_km=D(300)),
                    Lane("CHEAP", "GZ01", 5, D("1.00"), distance_km=D(100))])


@pytest.mark.parametrize("objective, source, value", [
    ("cost", "CHEAP", D("10.00")),
    ("time", "FAST", D(10)),
    ("nearest", "CHEAP", D(1000)),
    (Objective(cost=D(1), time=D(10)), "FAST", D("150.00")),  # 50 + 10 x 10 beats 10 + 10 x 50
])
def test_objectives_choose_different_sources(objective, source, value):
    plan = optimize(two_routes(), objective)
    assert [m.from_warehouse for m in plan.moves] == [source]
    assert plan.objective == value


def test_nearest_uses_transit_days_when_a_lane_has_no_distance():
    prob = problem([Supply("A", P, "LA", D(10), FAR), Supply("B", P, "LB", D(10), FAR)],
                   [Demand("GZ01", P, D(10), SOON)],
                   [Lane("A", "GZ01", 4, D(1), distance_km=D(10)), Lane("B", "GZ01", 2, D(1))])
    assert [m.from_warehouse for m in optimize(prob, "nearest").moves] == ["B"]
    assert [m.from_warehouse for m in naive_plan(prob).moves] == ["B"]


def test_unknown_objective_is_refused_in_both_languages():
    with pytest.raises(ValidationFailed) as e:
        optimize(crossing_problem(), "fastest")
    assert "unknown objective 'fastest'" in e.value.message and "未知的优化目标" in e.value.zh


# --------------------------------------------------------------------------- MILP


def test_fixed_cost_per_shipment_decides_the_lane():
    # A: 100.00 per shipment + 1.00/unit; B: 2.00/unit. 50 units: B (100) beats A (150);
    # 150 units: A (250) beats B (300).
    def case(units):
        return problem([Supply("A", P, "LA", D(200), FAR), Supply("B", P, "LB", D(200), FAR)],
                       [Demand("GZ01", P, D(units), SOON)],
                       [Lane("A", "GZ01", 1, D(1), fixed_cost=D(100)), Lane("B", "GZ01", 1, D(2))])
    small, large = optimize(case(50)), optimize(case(150))
    assert [m.from_warehouse for m in small.moves] == ["B"] and small.totals.cost == 100
    assert [m.from_warehouse for m in large.moves] == ["A"] and large.totals.cost == 250
    assert large.optimal and large.gap is not None and large.gap <= 0.01


def test_vehicles_are_whole_and_paid_per_vehicle():
    # V: free per unit, 100.00 per vehicle of 40. R: 3.00/unit. 50 units:
    # 2 vehicles = 200; 1 vehicle + 10 by R = 130; all by R = 150.
    prob = problem([Supply("V", P, "LV", D(100), FAR), Supply("R", P, "LR", D(100), FAR)],
                   [Demand("GZ01", P, D(50), SOON)],
                   [Lane("V", "GZ01", 1, D(0), vehicle_capacity=D(40), vehicle_cost=D(100)),
                    Lane("R", "GZ01", 1, D(3))])
    plan = optimize(prob)
    assert plan.totals.cost == D(130)
    assert {(s.from_warehouse, s.quantity, s.vehicles) for s in plan.shipments} == {
        ("V", D(40), 1), ("R", D(10), None)}
    assert naive_plan(prob).totals.cost == D(150)  # same transit days, R sorts first: 50 x 3


def fixed_charge_network(n: int = 20, seed: int = 11) -> TransferProblem:
    """n sources x n destinations, every pair a lane with a fixed cost: a classic
    hard MILP (HiGHS needs well over a minute here for a proven optimum)."""
    rng = random.Random(seed)
    quantities = [rng.randrange(20, 100) for _ in range(n)]
    demands = [Demand(f"D{j:02d}", P, D(q), SOON) for j, q in enumerate(quantities)]
    shares = [rng.random() + 0.2 for _ in range(n)]
    supplies = [Supply(f"S{i:02d}", P, f"L{i}", D(int(sum(quantities) * w / sum(shares)) + 5))
                for i, w in enumerate(shares)]
    lanes = [Lane(f"S{i:02d}", f"D{j:02d}", 2, D(rng.randrange(1, 20)),
                  fixed_cost=D(rng.randrange(100, 600))) for i in range(n) for j in range(n)]
    return problem(supplies, demands, lanes)


def test_time_limited_milp_is_labelled_with_its_gap():
    prob = fixed_charge_network()
    plan = optimize(prob, options=SolverOptions(time_limit_seconds=1.0, mip_gap=0.01))
    assert plan.time_limited and not plan.optimal
    assert plan.status == "Time limit reached"
    assert plan.gap is not None and plan.gap > 0.01
    # Still a whole plan: everything is met, for less than the naive plan costs.
    assert plan.totals.unmet == 0
    assert plan.totals.cost < naive_plan(prob).totals.cost


def test_a_solver_stopped_before_any_plan_raises_a_named_error():
    with pytest.raises(SolverFailed) as e:
        optimize(crossing_problem(), options=SolverOptions(time_limit_seconds=1e-9))
    assert isinstance(e.value, DomainError)
    assert "Time limit reached" in e.value.message and "allow it more time" in e.value.message
    assert "求解器 HiGHS 未能给出可用方案" in e.value.zh


# --------------------------------------------------------------------------- (g) CBC


def test_cbc_solves_the_same_lp():
    plan = optimize(crossing_problem(), options=SolverOptions(solver="cbc"))
    assert plan.solver == "cbc" and plan.optimal and plan.gap == 0.0
    assert plan.totals.cost == D("250.00")


def test_cbc_solves_a_milp_and_reports_its_gap():
    prob = fixed_charge_network(n=6, seed=3)
    highs = optimize(prob, options=SolverOptions(mip_gap=0.0))
    cbc = optimize(prob, options=SolverOptions(solver="cbc", mip_gap=0.0))
    assert cbc.solver == "cbc" and cbc.optimal and not cbc.time_limited
    assert cbc.status == "Optimal solution found" and cbc.gap == 0.0
    assert cbc.totals.cost == highs.totals.cost


def test_cbc_time_limited_milp_is_labelled_with_its_gap():
    plan = optimize(fixed_charge_network(),
                    options=SolverOptions(solver="cbc", time_limit_seconds=1.0))
    assert plan.solver == "cbc" and plan.status == "Stopped on time limit"
    assert plan.time_limited and not plan.optimal
    assert plan.gap is not None and plan.gap > 0.01
    assert plan.totals.unmet == 0


def test_highs_missing_falls_back_to_cbc(monkeypatch):
    monkeypatch.setattr(opt, "highspy", None)
    plan = optimize(crossing_problem())
    assert plan.solver == "cbc" and plan.totals.cost == D("250.00")


def test_no_solver_at_all_raises_a_named_error(monkeypatch):
    class Missing:
        def available(self):
            return False
    monkeypatch.setattr(opt, "highspy", None)
    monkeypatch.setattr(opt, "_cbc", lambda *a, **k: Missing())
    with pytest.raises(SolverUnavailable) as e:
        optimize(crossing_problem())
    assert e.value.status == 503
    assert "HiGHS (highspy) or CBC" in e.value.message and "没有可用的求解器" in e.value.zh
    # The naive plan needs no solver.
    assert naive_plan(crossing_problem()).totals.cost == D("500.00")


# --------------------------------------------------------------------------- quantities


def test_quantities_are_exact_and_rounded_to_the_products_unit():
    supplies = [Supply("SH01", P, "L1", D("100.0"), FAR)]
    lanes = [Lane("SH01", "GZ01", 1, D("1.00"))]
    demands = [Demand("GZ01", P, D("10.5"), SOON)]
    whole = optimize(problem(supplies, demands, lanes))
    assert moved(whole) == D(10)
    assert [(u.quantity, u.codes) for u in whole.unmet] == [(D("0.5"), ("rounding",))]
    tenths = optimize(problem(supplies, demands, lanes, precision={P: 1}))
    assert moved(tenths) == D("10.5") and tenths.unmet == ()
    assert all(isinstance(m.quantity, D) for m in tenths.moves)


def test_rounding_never_exceeds_a_lot_a_demand_or_a_lane():
    # Two one-unit lots, one unit wanted, one unit of lane capacity: whatever the
    # solver's floats, the rounded flows never add up to more.
    ix = opt._Index(problem(
        [Supply("SH01", P, "L1", D(1), FAR), Supply("SH01", P, "L2", D(1), FAR)],
        [Demand("GZ01", P, D(1), SOON)],
        [Lane("SH01", "GZ01", 1, D(1), capacity=D(1))]))
    routes = opt._routes(ix)
    flows = opt._rounded_flows(ix, routes, [0.5, 0.5])
    assert sum(flows) == D(1) and sorted(flows) == [D(0), D(1)]
    over = opt._rounded_flows(ix, routes, [0.9, 0.9])  # a solver off by tolerance
    assert sum(over) == D(1)


def test_expiring_unused_counts_stock_left_in_lots_that_expire_by_the_horizon():
    prob = problem(
        [Supply("SH01", P, "L-SOON", D(50), TODAY + dt.timedelta(days=5)),
         Supply("SH01", P, "L-FAR", D(50), FAR),
         Supply("SH01", "CAT-0001", "C-SOON", D(7), TODAY + dt.timedelta(days=8)),
         Supply("SH01", "CAT-0001", "C-GONE", D(9), TODAY - dt.timedelta(days=1))],
        [Demand("GZ01", P, D(30), SOON)], [Lane("SH01", "GZ01", 1, D(1))])
    plan = optimize(prob)
    # The sooner-expiring lot goes first (same cost): 20 of it and all of C-SOON are left.
    assert moved(plan, lot="L-SOON") == D(30)
    assert plan.totals.expiring_unused == D(27)


def test_inputs_are_checked_and_all_problems_reported_at_once():
    with pytest.raises(ValidationFailed) as e:
        Supply("SH01", P, "L1", 1.5)
    assert "exact Decimal" in e.value.message
    with pytest.raises(ValidationFailed) as e:
        problem([Supply("SH01", P, "L1", D(1)), Supply("SH01", P, "L1", D(2))], [],
                [Lane("A", "A", 1, D(1)), Lane("A", "B", 1, D(1)), Lane("A", "B", 2, D(1))])
    problems = e.value.details["problems"]
    assert len(problems) == 3
    assert "lot L1 of SYR-0003 at SH01 is listed twice" in e.value.message
    assert "线路 A→B 重复" in e.value.zh


def test_nothing_to_plan_needs_no_solver():
    plan = optimize(problem([Supply("SH01", P, "L1", D(5), FAR)], [], []))
    assert plan.optimal and plan.moves == () and plan.unmet == () and plan.solver == "none"
    assert plan.totals.expiring_unused == 0
