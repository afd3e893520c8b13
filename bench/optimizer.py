"""Transfer optimizer: model build time and solve time on a network of realistic size.

    .venv/bin/python bench/optimizer.py [--warehouses 50] [--products 500] [--seed 7]
                                        [--milp-time-limit 60] [--solver highs|cbc] [--skip-milp]

A random but seeded instance (``instance``): each warehouse has lanes to ~10
others; about 30 % of warehouse × product pairs hold 1-3 lots, about 20 % have a
demand; lots expire 10-720 days out, products need 30-180 days of shelf life on
arrival, some sources keep safety stock, ~30 % of lanes have a capacity.

* LP: unit costs only. Target: model build + solve < 3 s.
* MILP: the same with a fixed cost per used lane, solved to a 1 % gap or the
  time limit (60 s); prints the gap reached and whether it was optimal.

Also the naive plan (nearest first) and the comparison. No database; nothing
is written. Figures are printed; no test depends on them.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.domain.optimizer import (Demand, Lane, SolverOptions, Supply,  # noqa: E402
                                  TransferProblem, compare, naive_plan, optimize)

TARGET_LP_S = 3.0
TODAY = dt.date(2027, 1, 4)


def instance(warehouses: int = 50, products: int = 500, *, seed: int = 7,
             lanes_per_warehouse: int = 10, fixed_costs: bool = False,
             fixed_low: int = 50, fixed_high: int = 500) -> TransferProblem:
    """A seeded random network; same arguments, same problem."""
    rng = random.Random(seed)
    fixed_rng = random.Random(seed + 1)  # so the MILP is the LP plus fixed costs
    whs = [f"W{i:02d}" for i in range(warehouses)]
    prods = [f"P{i:04d}" for i in range(products)]
    spots = {w: (rng.uniform(0, 2000), rng.uniform(0, 1500)) for w in whs}
    lanes = []
    for w in whs:
        others = [o for o in whs if o != w]
        for o in rng.sample(others, min(lanes_per_warehouse, len(others))):
            (x1, y1), (x2, y2) = spots[w], spots[o]
            km = int(((x1 - x2) ** 2 + (y1 - y2) ** 2) ** 0.5) + 20
            lanes.append(Lane(
                w, o, transit_days=1 + km // 500,
                cost_per_unit=Decimal(20 + km // 10) / 100,
                fixed_cost=(Decimal(fixed_rng.randrange(fixed_low, fixed_high))
                            if fixed_costs else Decimal(0)),
                capacity=Decimal(rng.randrange(500, 3000)) if rng.random() < 0.3 else None,
                distance_km=Decimal(km)))
    supplies, demands, safety = [], [], {}
    for w in whs:
        for p in prods:
            if rng.random() < 0.3:
                for n in range(rng.randint(1, 3)):
                    supplies.append(Supply(w, p, f"{p}-{w}-{n}", Decimal(rng.randrange(10, 500)),
                                           TODAY + dt.timedelta(days=rng.randrange(10, 720))))
                if rng.random() < 0.5:
                    safety[(w, p)] = Decimal(rng.randrange(0, 50))
            if rng.random() < 0.2:
                demands.append(Demand(w, p, Decimal(rng.randrange(10, 300)),
                                      TODAY + dt.timedelta(days=rng.randrange(3, 21))))
    shelf = {p: rng.randrange(30, 180) for p in prods}
    return TransferProblem(supplies, demands, lanes, TODAY, min_shelf_days=shelf,
                           safety_stock=safety)


def report(title: str, problem: TransferProblem, plan, wall: float, target: str) -> None:
    t = plan.totals
    print(f"== {title}")
    print(f"  input: {len(problem.supplies)} lots, {len(problem.demands)} demands, "
          f"{len(problem.lanes)} lanes")
    print(f"  model: {plan.variables} variables, {plan.constraints} constraints")
    print(f"  build {plan.build_seconds:7.3f} s   solve {plan.solve_seconds:7.3f} s   "
          f"build+solve {plan.build_seconds + plan.solve_seconds:7.3f} s   "
          f"{target}")
    inside = ("" if plan.solver_seconds is None
              else f"solve = handing the model to the solver + {plan.solver_seconds:.3f} s in "
                   f"{plan.solver}; ")
    print(f"  {inside}then rounding, reasons, totals {plan.report_seconds:.3f} s; "
          f"optimize() wall {wall:.3f} s")
    gap = "n/a" if plan.gap is None else f"{plan.gap:.4%}"
    print(f"  solver {plan.solver}: status {plan.status!r}, optimal {plan.optimal}, "
          f"time-limited {plan.time_limited}, gap {gap}")
    print(f"  plan: {len(plan.moves)} moves, {t.moved} units moved, {t.covered_locally} local, "
          f"{t.unmet} unmet, cost {t.cost}, {t.transit_unit_days} unit-days")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouses", type=int, default=50)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--milp-time-limit", type=float, default=60.0)
    parser.add_argument("--solver", default="highs", choices=("highs", "cbc"))
    parser.add_argument("--skip-milp", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="LP runs (build and solve range)")
    args = parser.parse_args()
    import pulp
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores; Python {platform.python_version()}; PuLP {pulp.__version__}; "
          f"load average now {load}")

    started = time.perf_counter()
    lp = instance(args.warehouses, args.products, seed=args.seed)
    print(f"instance generated in {time.perf_counter() - started:.2f} s (seed {args.seed})")
    runs = []
    for _ in range(max(1, args.repeat)):
        started = time.perf_counter()
        plan = optimize(lp, "cost", SolverOptions(solver=args.solver))
        runs.append((plan, time.perf_counter() - started))
    plan, wall = sorted(runs, key=lambda r: r[0].build_seconds + r[0].solve_seconds)[len(runs) // 2]
    total = plan.build_seconds + plan.solve_seconds
    met = "MET" if total < TARGET_LP_S else "MISSED"
    report(f"LP, {args.warehouses} warehouses x {args.products} products, objective cost "
           f"(median of {len(runs)} runs)",
           lp, plan, wall, f"[target build+solve < {TARGET_LP_S:g} s: {met}]")
    if len(runs) > 1:
        for name, get in (("build", lambda p: p.build_seconds), ("solve", lambda p: p.solve_seconds),
                          ("build+solve", lambda p: p.build_seconds + p.solve_seconds)):
            values = sorted(get(p) for p, _ in runs)
            print(f"  {name:<12} over {len(runs)} runs: {values[0]:.3f} .. {values[-1]:.3f} s")
        inside = sorted(p.solver_seconds for p, _ in runs if p.solver_seconds is not None)
        if inside:
            print(f"  {'in the solver':<12} over {len(inside)} runs: "
                  f"{inside[0]:.3f} .. {inside[-1]:.3f} s")

    started = time.perf_counter()
    naive = naive_plan(lp)
    print(f"== naive plan (nearest first): {time.perf_counter() - started:.3f} s")
    print(f"  {'measure':<36} {'optimizer':>14} {'naive':>14} {'difference':>14}")
    for row in compare(plan, naive):
        print(f"  {row.label['en']:<36} {row.optimizer!s:>14} {row.naive!s:>14} "
              f"{row.difference!s:>14}")

    if args.skip_milp:
        return 0
    milp = instance(args.warehouses, args.products, seed=args.seed, fixed_costs=True)
    options = SolverOptions(solver=args.solver, mip_gap=0.01,
                            time_limit_seconds=args.milp_time_limit)
    started = time.perf_counter()
    plan = optimize(milp, "cost", options)
    wall = time.perf_counter() - started
    print()
    report(f"MILP, fixed cost per used lane, gap 1 % or {args.milp_time_limit:g} s",
           milp, plan, wall,
           f"[target: gap <= 1 % within {args.milp_time_limit:g} s: "
           f"{'MET' if plan.optimal else 'MISSED'}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
