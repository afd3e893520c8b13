"""Pick path: the order to visit the bins of a pick list for the shortest walk.

Bins have ``x``, ``y`` in metres (either may be missing) and a
``pick_sequence`` (the warehouse's walking order). ``order_picks``:

1. stops with coordinates: nearest neighbour from the start point (the
   warehouse's dispatch point, default (0, 0)), then 2-opt (reverse a stretch
   of the route whenever that shortens it, until nothing does). The same 2-opt
   also runs from the plain pick-sequence order, and the shorter result wins,
   so the optimized walk is never longer than the pick-sequence walk;
2. stops without coordinates follow at the end, in pick-sequence order.

The walk starts at the start point and, with ``return_to_start`` (default),
ends there (the picker drops the picks at dispatch). Distances are straight
lines (``metric="euclidean"``) or along the axes (``"manhattan"``, closer to
walking along aisles). Deterministic: ties go to the lower bin code, then
pick sequence, then input order. Stops without coordinates are not in the
walk lengths (their place is unknown).

Pure standard library.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Optional, Sequence

from app.domain.errors import ValidationFailed

METRICS = ("euclidean", "manhattan")
_EPS = 1e-9


@dataclass(frozen=True)
class PickStop:
    """One bin to visit; ``item`` carries the caller's pick line(s)."""

    bin_code: str
    pick_sequence: int
    x: Optional[float] = None
    y: Optional[float] = None
    item: Any = None

    def __post_init__(self) -> None:
        for name in ("x", "y"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) \
                    or not math.isfinite(float(value)):
                raise ValidationFailed(f"bin {self.bin_code}: {name} must be a number of metres, "
                                       f"got {value!r}",
                                       zh=f"货位 {self.bin_code}：{name} 必须是以米为单位的数字，"
                                          f"收到 {value!r}")
            object.__setattr__(self, name, float(value))

    @property
    def placed(self) -> bool:
        return self.x is not None and self.y is not None


@dataclass(frozen=True)
class PickPath:
    """``stops`` in walking order; ``walk_m`` for that order and
    ``sequence_walk_m`` for the same placed stops in pick-sequence order;
    ``unplaced`` stops (no coordinates) are the last ones, not measured."""

    stops: tuple
    walk_m: float
    sequence_walk_m: float
    unplaced: int
    start: tuple
    returns_to_start: bool
    metric: str

    @property
    def saved_m(self) -> float:
        return self.sequence_walk_m - self.walk_m


def _distance(metric: str) -> Callable[[tuple, tuple], float]:
    if metric == "manhattan":
        return lambda a, b: abs(a[0] - b[0]) + abs(a[1] - b[1])
    return lambda a, b: math.hypot(a[0] - b[0], a[1] - b[1])


def _key(indexed: tuple[int, PickStop]) -> tuple:
    i, s = indexed
    return (s.bin_code, s.pick_sequence, i)


def sequence_order(stops: Sequence[PickStop]) -> list[PickStop]:
    """The plain walking order: pick sequence, then bin code, then input order."""
    return [s for _, s in sorted(enumerate(stops),
                                 key=lambda e: (e[1].pick_sequence, e[1].bin_code, e[0]))]


def walk_length(stops: Sequence[PickStop], start: tuple = (0.0, 0.0), *,
                return_to_start: bool = True, metric: str = "euclidean") -> float:
    """Metres walked from ``start`` through the placed ``stops`` in the given order."""
    dist = _distance(_check_metric(metric))
    here, total = (float(start[0]), float(start[1])), 0.0
    for s in stops:
        if s.placed:
            total += dist(here, (s.x, s.y))
            here = (s.x, s.y)
    if return_to_start:
        total += dist(here, (float(start[0]), float(start[1])))
    return total


def nearest_neighbour_order(stops: Sequence[PickStop], start: tuple = (0.0, 0.0), *,
                            metric: str = "euclidean") -> list[PickStop]:
    """Placed stops, each time the nearest not yet visited (ties: bin code)."""
    dist = _distance(_check_metric(metric))
    left = [(i, s) for i, s in enumerate(stops) if s.placed]
    here, order = (float(start[0]), float(start[1])), []
    while left:
        best = min(left, key=lambda e: (round(dist(here, (e[1].x, e[1].y)), 9), _key(e)))
        left.remove(best)
        order.append(best[1])
        here = (best[1].x, best[1].y)
    return order


def two_opt(stops: Sequence[PickStop], start: tuple = (0.0, 0.0), *,
            return_to_start: bool = True, metric: str = "euclidean") -> list[PickStop]:
    """Improve an order of placed stops by reversing stretches while that
    shortens the walk (first improvement, scanning in order: deterministic)."""
    dist = _distance(_check_metric(metric))
    origin = (float(start[0]), float(start[1]))
    route = list(stops)
    points = [origin] + [(s.x, s.y) for s in route]
    n = len(route)
    improved = True
    while improved:
        improved = False
        for i in range(1, n):
            for j in range(i + 1, n + 1):
                a, b, c = points[i - 1], points[i], points[j]
                if j < n:
                    e = points[j + 1]
                    delta = dist(a, c) + dist(b, e) - dist(a, b) - dist(c, e)
                elif return_to_start:
                    delta = dist(a, c) + dist(b, origin) - dist(a, b) - dist(c, origin)
                else:
                    delta = dist(a, c) - dist(a, b)
                if delta < -_EPS:
                    points[i:j + 1] = reversed(points[i:j + 1])
                    route[i - 1:j] = reversed(route[i - 1:j])
                    improved = True
    return route


def order_picks(stops: Sequence[PickStop], start: tuple = (0.0, 0.0), *,
                return_to_start: bool = True, metric: str = "euclidean") -> PickPath:
    """The walking order for ``stops`` and its length beside the pick-sequence walk."""
    _check_metric(metric)
    stops = list(stops)
    for s in stops:
        if not isinstance(s, PickStop):
            raise ValidationFailed(f"{s!r} is not a PickStop", zh=f"{s!r} 不是拣货点")
    kw = {"return_to_start": return_to_start, "metric": metric}
    by_sequence = sequence_order(stops)
    placed_sequence = [s for s in by_sequence if s.placed]
    unplaced = [s for s in by_sequence if not s.placed]
    from_nearest = two_opt(nearest_neighbour_order(stops, start, metric=metric), start, **kw)
    from_sequence = two_opt(placed_sequence, start, **kw)
    nearest_m = walk_length(from_nearest, start, **kw)
    sequence_start_m = walk_length(from_sequence, start, **kw)
    best, best_m = ((from_sequence, sequence_start_m) if sequence_start_m < nearest_m - _EPS
                    else (from_nearest, nearest_m))
    return PickPath(
        stops=tuple(best + unplaced),
        walk_m=best_m,
        sequence_walk_m=walk_length(placed_sequence, start, **kw),
        unplaced=len(unplaced),
        start=(float(start[0]), float(start[1])),
        returns_to_start=return_to_start,
        metric=metric,
    )


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValidationFailed(f"unknown distance {metric!r}; allowed: euclidean, manhattan",
                               zh=f"未知的距离算法 {metric!r}；可选：euclidean、manhattan")
    return metric
