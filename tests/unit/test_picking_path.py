"""Pick path: nearest neighbour + 2-opt, never longer than the pick sequence."""
from __future__ import annotations

import itertools
import math
import random

import pytest

from app.domain.errors import ValidationFailed
from app.domain.picking import (
    PickStop,
    nearest_neighbour_order,
    order_picks,
    two_opt,
    walk_length,
)


def stops_at(points, codes=None) -> list[PickStop]:
    codes = codes or [f"A-{i}" for i in range(len(points))]
    return [PickStop(code, 10 * i, x, y) for i, (code, (x, y)) in enumerate(zip(codes, points))]


def codes(stops) -> list[str]:
    return [s.bin_code for s in stops]


def test_two_opt_strictly_improves_nearest_neighbour():
    # Manhattan metres from dispatch (0, 0). Nearest neighbour: A-1 (4), A-3 (6),
    # then are both 2 away: A-0 by bin code, A-4 (2), A-2 (3), back 15
    # = 32. Reversing: ... A-0, A-2 (3), A-4 (3), back 12 = 30.
    stops = stops_at([(6, 6), (0, 4), (8, 7), (6, 4), (7, 5)])
    nn = nearest_neighbour_order(stops, metric="manhattan")
    assert codes(nn) == ["A-1", "A-3", "A-0", "A-4", "A-2"]
    assert walk_length(nn, metric="manhattan") == 32

    path = order_picks(stops, metric="manhattan")
    assert codes(path.stops) == ["A-1", "A-3", "A-0", "A-2", "A-4"]
    assert path.walk_m == 30
    assert path.sequence_walk_m == 50  # 12 + 8 + 11 + 5 + 2 + 12 in A-0..A-4 order
    assert path.saved_m == 20
    best = min(walk_length(p, metric="manhattan") for p in itertools.permutations(stops))
    assert path.walk_m == best


def test_never_longer_than_the_pick_sequence_even_where_nearest_neighbour_is():
    # Here nearest neighbour + 2-opt gets stuck at 69.90 m, while the pick
    # sequence walk is 67.60 m; the result must not be the longer one.
    stops = stops_at([(8, 6), (17, 1), (20, 0), (16, 18), (3, 10)])
    stuck = walk_length(two_opt(nearest_neighbour_order(stops), (0, 0)))
    path = order_picks(stops)
    assert stuck == pytest.approx(69.896, abs=1e-3)
    assert path.sequence_walk_m == pytest.approx(67.602, abs=1e-3)
    assert path.walk_m <= path.sequence_walk_m + 1e-9


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_optimized_walk_is_never_longer_than_pick_sequence_walk(metric):
    rng = random.Random(20261201)
    for _ in range(200):
        n = rng.randint(1, 12)
        stops = stops_at([(rng.uniform(0, 40), rng.uniform(0, 25)) for _ in range(n)])
        start = (rng.uniform(0, 5), 0.0)
        for back in (True, False):
            path = order_picks(stops, start, return_to_start=back, metric=metric)
            assert path.walk_m <= path.sequence_walk_m + 1e-9
            assert sorted(codes(path.stops)) == sorted(codes(stops))
            assert path.walk_m == pytest.approx(
                walk_length(path.stops, start, return_to_start=back, metric=metric))


def test_stops_without_coordinates_keep_pick_sequence_order_at_the_end():
    stops = [PickStop("C-9", 90), PickStop("B-1", 5, 3, 0), PickStop("C-2", 20, None, 4),
             PickStop("A-1", 30, 1, 0), PickStop("C-1", 10)]
    path = order_picks(stops)
    assert codes(path.stops) == ["A-1", "B-1", "C-1", "C-2", "C-9"]
    assert path.unplaced == 3
    assert path.walk_m == path.sequence_walk_m == 6  # out to x=3 and back


def test_no_coordinates_at_all_is_the_pick_sequence():
    stops = [PickStop("B-2", 20), PickStop("A-9", 10), PickStop("A-1", 20)]
    path = order_picks(stops)
    assert codes(path.stops) == ["A-9", "A-1", "B-2"]  # same sequence: bin code
    assert path.walk_m == path.sequence_walk_m == 0 and path.unplaced == 3


def test_deterministic_whatever_the_input_order():
    stops = stops_at([(0, 5), (5, 0), (5, 5), (0, 5.0000000001), (10, 10)],
                     ["B-2", "B-1", "C-1", "A-7", "D-1"])
    first = order_picks(stops)
    rng = random.Random(3)
    for _ in range(20):
        shuffled = stops[:]
        rng.shuffle(shuffled)
        assert codes(order_picks(shuffled).stops) == codes(first.stops)


def test_open_walk_from_a_dispatch_point():
    stops = stops_at([(10, 0), (20, 0), (30, 0)])
    path = order_picks(list(reversed(stops)), start=(0, 0), return_to_start=False)
    assert codes(path.stops) == ["A-0", "A-1", "A-2"]
    assert path.walk_m == 30 and path.start == (0.0, 0.0)
    assert math.isclose(order_picks(stops).walk_m, 60)


def test_bad_input_is_refused():
    with pytest.raises(ValidationFailed, match="must be a number of metres"):
        PickStop("A-1", 1, "north", 2)
    with pytest.raises(ValidationFailed, match="unknown distance"):
        order_picks([], metric="chebyshev")
