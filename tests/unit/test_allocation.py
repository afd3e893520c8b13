"""Allocation strategies, shelf-life filter, constraints and their properties."""
from __future__ import annotations

import copy
import datetime as dt
from collections import Counter
from decimal import Decimal as D

import pytest
from hypothesis import given, settings, strategies as st

from app.domain.allocation import (
    AllocationRequest,
    InsufficientStock,
    Pick,
    StockCandidate,
    Strategy,
    allocate,
    order_pick_list,
    resolve_strategy,
)
from app.domain.errors import ValidationFailed

ON = dt.date(2026, 12, 1)
PRODUCT = 7


def cand(
    lot="L1",
    qty="10",
    *,
    expiry=dt.date(2027, 12, 1),
    received=dt.datetime(2025, 1, 1, 8, 0),
    loc="A-01-01",
    seq=10,
    serial=None,
    status="available",
    product=PRODUCT,
    lot_id=None,
    location_id=None,
):
    return StockCandidate(
        product_id=product,
        lot_id=lot_id if lot_id is not None else (lot and f"id-{lot}"),
        lot_number=lot,
        serial=serial,
        location_id=location_id if location_id is not None else f"loc-{loc}",
        location_code=loc,
        pick_sequence=seq,
        expiry_date=expiry,
        received_at=received,
        quantity=D(qty),
        status=status,
    )


def req(qty="1", strategy=Strategy.FEFO, **kw):
    kw.setdefault("on_date", ON)
    return AllocationRequest(product_id=PRODUCT, quantity=D(qty), strategy=strategy, **kw)


def lots(picks):
    return [(p.candidate.lot_number, p.quantity) for p in picks]


# ----------------------------------------------------------------------------- strategies


def test_fefo_takes_earliest_expiry_first_and_no_expiry_last():
    stock = [
        cand("LATE", "5", expiry=dt.date(2028, 1, 1)),
        cand("NONE", "5", expiry=None),
        cand("SOON", "5", expiry=dt.date(2027, 1, 1)),
    ]
    picks = allocate(req("12"), stock)
    assert lots(picks) == [("SOON", D(5)), ("LATE", D(5)), ("NONE", D(2))]


def test_fefo_ties_broken_by_receipt_then_pick_sequence_then_bin():
    same = dt.date(2027, 6, 1)
    stock = [
        cand("B", "1", expiry=same, received=dt.datetime(2025, 3, 1), seq=1, loc="A"),
        cand("A", "1", expiry=same, received=dt.datetime(2025, 2, 1), seq=9, loc="Z"),
        cand("C", "1", expiry=same, received=dt.datetime(2025, 3, 1), seq=1, loc="B"),
        cand("D", "1", expiry=same, received=dt.datetime(2025, 3, 1), seq=0, loc="Z"),
    ]
    picks = allocate(req("4"), stock)
    assert [p.candidate.lot_number for p in picks] == ["A", "D", "B", "C"]


def test_fifo_takes_oldest_receipt_first_regardless_of_expiry():
    stock = [
        cand("NEW", "5", received=dt.datetime(2025, 6, 1), expiry=dt.date(2027, 1, 1)),
        cand("OLD", "5", received=dt.datetime(2025, 1, 1), expiry=dt.date(2029, 1, 1)),
        cand("UNKNOWN", "5", received=None, expiry=dt.date(2027, 1, 1)),
    ]
    picks = allocate(req("11", Strategy.FIFO), stock)
    assert lots(picks) == [("OLD", D(5)), ("NEW", D(5)), ("UNKNOWN", D(1))]


def test_fifo_same_receipt_falls_back_to_expiry():
    t = dt.datetime(2025, 1, 1)
    stock = [
        cand("B", "5", received=t, expiry=dt.date(2028, 1, 1)),
        cand("A", "5", received=t, expiry=dt.date(2027, 1, 1)),
    ]
    assert lots(allocate(req("6", Strategy.FIFO), stock)) == [("A", D(5)), ("B", D(1))]


def test_fifo_compares_aware_and_naive_receipt_times():
    stock = [
        cand("NAIVE", "1", received=dt.datetime(2025, 1, 1, 12, 0)),
        cand("AWARE", "1", received=dt.datetime(2025, 1, 1, 11, 0, tzinfo=dt.timezone.utc)),
    ]
    assert [p.candidate.lot_number for p in allocate(req("2", Strategy.FIFO), stock)] == [
        "AWARE",
        "NAIVE",
    ]


def test_closest_bin_takes_lowest_pick_sequence_then_bin_code():
    stock = [
        cand("SOON", "5", seq=30, loc="C-01", expiry=dt.date(2027, 1, 1)),
        cand("LATE", "5", seq=10, loc="A-02", expiry=dt.date(2029, 1, 1)),
        cand("MID", "5", seq=10, loc="A-01", expiry=dt.date(2028, 1, 1)),
    ]
    picks = allocate(req("12", Strategy.CLOSEST_BIN), stock)
    assert lots(picks) == [("MID", D(5)), ("LATE", D(5)), ("SOON", D(2))]


def test_closest_bin_same_bin_prefers_earliest_expiry():
    stock = [
        cand("LATE", "5", expiry=dt.date(2029, 1, 1)),
        cand("SOON", "5", expiry=dt.date(2027, 1, 1)),
    ]
    assert lots(allocate(req("3", Strategy.CLOSEST_BIN), stock)) == [("SOON", D(3))]


def test_manual_lot_keeps_only_requested_lot_in_pick_order():
    stock = [
        cand("WANTED", "4", seq=20, loc="B-01"),
        cand("OTHER", "100", seq=1, loc="A-01", expiry=dt.date(2027, 1, 1)),
        cand("WANTED", "4", seq=5, loc="A-09"),
    ]
    picks = allocate(req("6", Strategy.MANUAL_LOT, lot_number="WANTED"), stock)
    assert [(p.candidate.location_code, p.quantity) for p in picks] == [
        ("A-09", D(4)),
        ("B-01", D(2)),
    ]


def test_manual_lot_by_serial():
    stock = [cand("L1", "1", serial="S1"), cand("L1", "1", serial="S2")]
    picks = allocate(req("1", Strategy.MANUAL_LOT, serial="S2"), stock)
    assert [p.candidate.serial for p in picks] == ["S2"]


def test_manual_lot_without_lot_or_serial_is_refused():
    with pytest.raises(ValidationFailed, match="lot number or a serial"):
        req("1", Strategy.MANUAL_LOT)


def test_manual_lot_not_enough_says_other_lots_were_excluded():
    stock = [cand("WANTED", "2"), cand("OTHER", "50")]
    with pytest.raises(InsufficientStock) as err:
        allocate(req("3", Strategy.MANUAL_LOT, lot_number="WANTED"), stock)
    assert "requested 3, allocatable 2" in err.value.message
    assert "50 units not in lot WANTED" in err.value.message


def test_strategy_is_a_sort_key():
    early = cand("E", expiry=dt.date(2027, 1, 1), received=dt.datetime(2025, 5, 1))
    late = cand("L", expiry=dt.date(2028, 1, 1), received=dt.datetime(2025, 1, 1))
    assert sorted([late, early], key=Strategy.FEFO.sort_key) == [early, late]
    assert sorted([early, late], key=Strategy.FIFO.sort_key) == [late, early]


def test_strategy_string_is_accepted_in_request():
    assert req("1", "closest_bin").strategy is Strategy.CLOSEST_BIN


# ----------------------------------------------------------------------------- filters


def test_shelf_life_filter_measured_at_on_date():
    stock = [
        cand("SHORT", "5", expiry=ON + dt.timedelta(days=179)),
        cand("EXACT", "5", expiry=ON + dt.timedelta(days=180)),
    ]
    picks = allocate(req("5", min_remaining_days=180), stock)
    assert lots(picks) == [("EXACT", D(5))]
    # the same stock measured a day earlier qualifies
    earlier = allocate(req("10", min_remaining_days=180, on_date=ON - dt.timedelta(days=1)), stock)
    assert [p.candidate.lot_number for p in earlier] == ["SHORT", "EXACT"]


def test_expired_lot_never_allocated_even_without_minimum():
    stock = [cand("GONE", "5", expiry=ON - dt.timedelta(days=1)), cand("LAST_DAY", "5", expiry=ON)]
    picks = allocate(req("5"), stock)
    assert lots(picks) == [("LAST_DAY", D(5))]
    with pytest.raises(InsufficientStock, match="5 units expired by 2026-12-01"):
        allocate(req("6"), stock)


def test_lot_without_expiry_passes_shelf_life_filter():
    assert lots(allocate(req("3", min_remaining_days=3650), [cand("X", "3", expiry=None)])) == [
        ("X", D(3))
    ]


def test_only_available_status_and_same_product():
    stock = [
        cand("Q", "5", status="quarantine", expiry=dt.date(2027, 1, 1)),
        cand("R", "5", status="recalled", expiry=dt.date(2027, 1, 1)),
        cand("P", "5", product=999, expiry=dt.date(2027, 1, 1)),
        cand("OK", "5", expiry=dt.date(2028, 1, 1)),
    ]
    assert lots(allocate(req("5"), stock)) == [("OK", D(5))]


def test_zero_and_negative_candidate_quantities_are_ignored():
    stock = [cand("ZERO", "0", expiry=dt.date(2027, 1, 1)), cand("NEG", "-2"), cand("OK", "3")]
    assert lots(allocate(req("3"), stock)) == [("OK", D(3))]


def test_lot_constraint_applies_to_any_strategy():
    stock = [cand("A", "5", expiry=dt.date(2027, 1, 1)), cand("B", "5", expiry=dt.date(2028, 1, 1))]
    assert lots(allocate(req("2", lot_number="B"), stock)) == [("B", D(2))]
    assert lots(allocate(req("2", Strategy.FIFO, lot_number="B"), stock)) == [("B", D(2))]


def test_serial_constraint():
    stock = [cand("A", "1", serial="S1"), cand("A", "1", serial="S2")]
    picks = allocate(req("1", serial="S2", serial_tracked=True), stock)
    assert [(p.candidate.serial, p.quantity) for p in picks] == [("S2", D(1))]


# ----------------------------------------------------------------------------- serials


def test_serial_tracked_picks_one_unit_per_serial():
    stock = [
        cand("A", "1", serial="S3", expiry=dt.date(2028, 1, 1)),
        cand("A", "1", serial="S1", expiry=dt.date(2027, 1, 1)),
        cand("A", "1", serial="S2", expiry=dt.date(2027, 1, 1)),
    ]
    picks = allocate(req("2", serial_tracked=True), stock)
    assert [(p.candidate.serial, p.quantity) for p in picks] == [("S1", D(1)), ("S2", D(1))]


def test_serial_tracked_skips_rows_without_serial_and_says_so():
    stock = [cand("A", "4", serial=None), cand("A", "1", serial="S1")]
    with pytest.raises(InsufficientStock) as err:
        allocate(req("2", serial_tracked=True), stock)
    assert "allocatable 1" in err.value.message
    assert "4 units without a serial number" in err.value.message


def test_serial_tracked_never_picks_a_serial_twice():
    stock = [cand("A", "1", serial="S1", loc="A"), cand("A", "1", serial="S1", loc="B")]
    with pytest.raises(InsufficientStock, match="allocatable 1"):
        allocate(req("2", serial_tracked=True), stock)


def test_serial_tracked_quantity_must_be_whole():
    with pytest.raises(ValidationFailed, match="whole number"):
        req("1.5", serial_tracked=True)
    assert req("2.000", serial_tracked=True).quantity == 2


# ----------------------------------------------------------------------------- shortfall


def test_insufficient_stock_message_names_product_quantities_and_reasons():
    stock = [
        cand("SHORT", "12", expiry=dt.date(2027, 3, 1)),
        cand("Q", "3", status="quarantine", expiry=dt.date(2029, 1, 1)),
        cand("OK", "5", expiry=dt.date(2029, 1, 1)),
    ]
    with pytest.raises(InsufficientStock) as err:
        allocate(req("20", min_remaining_days=180), stock)
    msg = err.value.message
    assert f"product {PRODUCT}" in msg
    assert "requested 20, allocatable 5" in msg
    assert "12 units with remaining shelf life below 180 days at 2026-12-01" in msg
    assert "3 units in quarantine" in msg
    assert msg.index("shelf life") < msg.index("quarantine")
    assert isinstance(err.value, ValidationFailed)
    details = err.value.details
    assert details["requested"] == "20" and details["allocatable"] == "5"
    assert {e["reason"]: e["quantity"] for e in details["excluded"]} == {
        "shelf_life": "12",
        "status:quarantine": "3",
    }


def test_insufficient_stock_without_any_stock():
    with pytest.raises(InsufficientStock) as err:
        allocate(req("1.5"), [cand(product=999)])
    assert err.value.message == f"insufficient stock of product {PRODUCT}: requested 1.5, allocatable 0"


def test_exclusions_summed_per_reason_with_trimmed_decimals():
    stock = [
        cand("Q1", "1.500", status="quarantine"),
        cand("Q2", "2.5", status="quarantine"),
        cand("H", "1", status="on_hold"),
    ]
    with pytest.raises(InsufficientStock) as err:
        allocate(req("1"), stock)
    assert "4 units in quarantine" in err.value.message
    assert "1 units on hold" in err.value.message


# ----------------------------------------------------------------------------- quantities


@pytest.mark.parametrize("bad", [D(0), D("-1"), D("-0.001")])
def test_zero_or_negative_quantity_refused(bad):
    with pytest.raises(ValidationFailed, match="greater than zero"):
        req(bad)


@pytest.mark.parametrize("bad", [1.5, "3", None, True, D("NaN"), D("Infinity")])
def test_inexact_or_non_numeric_quantity_refused(bad):
    with pytest.raises(ValidationFailed):
        AllocationRequest(PRODUCT, bad, Strategy.FEFO, ON)


def test_float_candidate_quantity_refused():
    with pytest.raises(ValidationFailed, match="exact Decimal"):
        StockCandidate(PRODUCT, None, None, None, 1, "A", 1, None, None, 0.1, "available")


def test_int_quantity_becomes_decimal():
    r = AllocationRequest(PRODUCT, 3, Strategy.FEFO, ON)
    assert isinstance(r.quantity, D)


def test_negative_min_remaining_days_refused():
    with pytest.raises(ValidationFailed, match="min_remaining_days"):
        req("1", min_remaining_days=-1)


def test_fractional_quantities_are_exact():
    stock = [cand("A", "0.1", expiry=dt.date(2027, 1, 1)), cand("B", "0.2")]
    picks = allocate(req("0.3"), stock)
    assert sum(p.quantity for p in picks) == D("0.3")
    assert lots(picks) == [("A", D("0.1")), ("B", D("0.2"))]


def test_inputs_not_mutated_and_result_deterministic():
    stock = [cand("B", "5", loc="B"), cand("A", "5", loc="A", expiry=dt.date(2027, 1, 1))]
    before = copy.deepcopy(stock)
    first = allocate(req("7"), stock)
    assert stock == before
    assert allocate(req("7"), list(reversed(stock))) == first


# ----------------------------------------------------------------------------- resolution


def test_resolve_strategy_precedence_document_product_warehouse():
    assert resolve_strategy("fifo", "closest_bin", "manual_lot") is Strategy.FIFO
    assert resolve_strategy(None, "closest_bin", "fifo") is Strategy.FIFO
    assert resolve_strategy(None, "closest_bin", None) is Strategy.CLOSEST_BIN
    assert resolve_strategy(document="manual_lot", product="fifo") is Strategy.MANUAL_LOT
    assert resolve_strategy(warehouse=Strategy.FIFO) is Strategy.FIFO


def test_resolve_strategy_defaults_by_expiry():
    assert resolve_strategy() is Strategy.FEFO
    assert resolve_strategy(has_expiry=False) is Strategy.FIFO
    assert resolve_strategy(warehouse="fefo", has_expiry=False) is Strategy.FEFO


def test_resolve_strategy_is_case_insensitive():
    assert resolve_strategy(product=" FEFO ") is Strategy.FEFO


def test_resolve_strategy_unknown_name_lists_allowed():
    with pytest.raises(ValidationFailed) as err:
        resolve_strategy(warehouse="lifo")
    assert "'lifo'" in err.value.message
    for name in ("fefo", "fifo", "closest_bin", "manual_lot"):
        assert name in err.value.message


# ----------------------------------------------------------------------------- pick list


def test_order_pick_list_by_pick_sequence_then_bin_code():
    picks = [
        Pick(cand("A", loc="C-01", seq=5), D(1)),
        Pick(cand("B", loc="B-02", seq=1), D(1)),
        Pick(cand("C", loc="B-01", seq=1), D(1)),
        Pick(cand("D", loc="A-01", seq=9), D(1)),
    ]
    ordered = order_pick_list(picks)
    assert [p.candidate.location_code for p in ordered] == ["B-01", "B-02", "C-01", "A-01"]
    assert [p.candidate.location_code for p in picks][0] == "C-01"  # input untouched


def test_order_pick_list_keeps_allocation_order_within_a_bin():
    picks = [Pick(cand("SOON", loc="A"), D(1)), Pick(cand("LATE", loc="A"), D(1))]
    assert [p.candidate.lot_number for p in order_pick_list(picks)] == ["SOON", "LATE"]


# ----------------------------------------------------------------------------- properties

LOT_NUMBERS = ["L0", "L1", "L2", "L3", "L4", "L5"]
BINS = [("A-01", 1), ("A-02", 2), ("B-01", 3), ("C-07", 3)]
quantities = st.decimals(min_value=0, max_value=40, places=2, allow_nan=False, allow_infinity=False)
requested = st.decimals(min_value=D("0.01"), max_value=120, places=2)


@st.composite
def lot_table(draw):
    """Per lot: one expiry (or none) and one first receipt time."""
    table = {}
    for lot in draw(st.lists(st.sampled_from(LOT_NUMBERS), min_size=1, max_size=6, unique=True)):
        expiry = draw(
            st.none() | st.dates(min_value=ON - dt.timedelta(days=60), max_value=ON + dt.timedelta(days=720))
        )
        received = draw(
            st.none() | st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2026, 1, 1))
        )
        table[lot] = (expiry, received)
    return table


@st.composite
def stock(draw, serials=False):
    table = draw(lot_table())
    rows = []
    used_places = set()
    for _ in range(draw(st.integers(0, 12))):
        lot = draw(st.sampled_from(sorted(table)))
        loc, seq = draw(st.sampled_from(BINS))
        serial = draw(st.none() | st.sampled_from([f"S{i}" for i in range(8)])) if serials else None
        if (lot, loc, serial) in used_places:
            continue  # one balance per lot × serial × location
        used_places.add((lot, loc, serial))
        expiry, received = table[lot]
        rows.append(
            StockCandidate(
                product_id=draw(st.sampled_from([PRODUCT, PRODUCT, PRODUCT, 8])),
                lot_id=f"id-{lot}",
                lot_number=lot,
                serial=serial,
                location_id=f"loc-{loc}",
                location_code=loc,
                pick_sequence=seq,
                expiry_date=expiry,
                received_at=received,
                quantity=draw(st.sampled_from([D(0), D(1)])) if serials else draw(quantities),
                status=draw(st.sampled_from(["available"] * 4 + ["quarantine", "on_hold", "recalled"])),
            )
        )
    return rows


def eligible(request, candidates):
    """Independent statement of the filter the domain must apply."""
    out = []
    for c in candidates:
        if c.product_id != request.product_id or c.status != "available" or c.quantity <= 0:
            continue
        if request.lot_number is not None and c.lot_number != request.lot_number:
            continue
        if request.serial is not None and c.serial != request.serial:
            continue
        if request.serial_tracked and c.serial is None:
            continue
        if c.expiry_date is not None:
            left = (c.expiry_date - request.on_date).days
            if left < 0 or left < request.min_remaining_days:
                continue
        out.append(c)
    return out


def picked_by_candidate(picks):
    amounts = {}
    for p in picks:
        amounts[id(p.candidate)] = amounts.get(id(p.candidate), D(0)) + p.quantity
    return amounts


def expiry_rank(c):
    return (c.expiry_date is None, c.expiry_date or dt.date.max)


min_days = st.integers(min_value=0, max_value=400)
strategies_without_manual = st.sampled_from([Strategy.FEFO, Strategy.FIFO, Strategy.CLOSEST_BIN])


@settings(max_examples=300, deadline=None)
@given(stock(), requested, min_days)
def test_property_fefo_never_skips_an_earlier_eligible_lot(candidates, qty, days):
    request = req(qty, Strategy.FEFO, min_remaining_days=days)
    try:
        picks = allocate(request, candidates)
    except InsufficientStock:
        return
    picked = picked_by_candidate(picks)
    pool = eligible(request, candidates)
    for p in picks:
        for c in pool:
            if expiry_rank(c) < expiry_rank(p.candidate):
                assert picked.get(id(c), D(0)) == c.quantity, (
                    f"picked lot {p.candidate.lot_number} (exp {p.candidate.expiry_date}) while "
                    f"lot {c.lot_number} (exp {c.expiry_date}) still had stock"
                )


@settings(max_examples=300, deadline=None)
@given(stock(), requested, min_days, strategies_without_manual)
def test_property_total_is_requested_or_insufficient(candidates, qty, days, strategy):
    request = req(qty, strategy, min_remaining_days=days)
    allocatable = sum((c.quantity for c in eligible(request, candidates)), D(0))
    if allocatable >= qty:
        picks = allocate(request, candidates)
        assert sum((p.quantity for p in picks), D(0)) == qty
    else:
        with pytest.raises(InsufficientStock) as err:
            allocate(request, candidates)
        assert err.value.details["allocatable"] == str(allocatable)


@settings(max_examples=300, deadline=None)
@given(stock(), requested, min_days, strategies_without_manual, st.none() | st.sampled_from(LOT_NUMBERS))
def test_property_picks_within_candidate_and_shelf_life(candidates, qty, days, strategy, lot):
    request = req(qty, strategy, min_remaining_days=days, lot_number=lot)
    before = list(candidates)
    try:
        picks = allocate(request, candidates)
    except InsufficientStock:
        assert candidates == before
        return
    assert candidates == before
    pool_ids = {id(c) for c in eligible(request, candidates)}
    assert set(picked_by_candidate(picks)) <= pool_ids
    for p in picks:
        c = p.candidate
        assert D(0) < p.quantity <= c.quantity
        assert c.status == "available" and c.product_id == PRODUCT
        if lot is not None:
            assert c.lot_number == lot
        if c.expiry_date is not None:
            assert (c.expiry_date - ON).days >= days
    # each candidate is picked at most once, so amounts never add up past its quantity
    assert len({id(p.candidate) for p in picks}) == len(picks)


@settings(max_examples=300, deadline=None)
@given(stock(serials=True), st.integers(1, 10), min_days, st.sampled_from(list(Strategy)))
def test_property_serial_tracked_picks_are_single_distinct_serials(candidates, qty, days, strategy):
    lot = "L0" if strategy is Strategy.MANUAL_LOT else None
    request = req(D(qty), strategy, min_remaining_days=days, serial_tracked=True, lot_number=lot)
    distinct = {c.serial for c in eligible(request, candidates)}
    if len(distinct) < qty:
        with pytest.raises(InsufficientStock):
            allocate(request, candidates)
        return
    picks = allocate(request, candidates)
    assert len(picks) == qty
    assert all(p.quantity == 1 for p in picks)
    serials = [p.candidate.serial for p in picks]
    assert None not in serials and len(set(serials)) == len(serials)


@settings(max_examples=200, deadline=None)
@given(stock(), requested, min_days, st.sampled_from(list(Strategy)), st.randoms(use_true_random=False))
def test_property_result_does_not_depend_on_input_order(candidates, qty, days, strategy, rnd):
    lot = "L1" if strategy is Strategy.MANUAL_LOT else None
    request = req(qty, strategy, min_remaining_days=days, lot_number=lot)
    shuffled = list(candidates)
    rnd.shuffle(shuffled)

    def outcome(cs):
        try:
            return [(p.candidate, p.quantity) for p in allocate(request, cs)]
        except InsufficientStock as exc:
            return exc.message

    assert outcome(candidates) == outcome(shuffled)


@settings(max_examples=100, deadline=None)
@given(stock(), requested, min_days, strategies_without_manual)
def test_property_pick_list_is_a_reordering(candidates, qty, days, strategy):
    try:
        picks = allocate(req(qty, strategy, min_remaining_days=days), candidates)
    except InsufficientStock:
        return
    ordered = order_pick_list(picks)
    assert Counter(map(id, ordered)) == Counter(map(id, picks))
    keys = [(p.candidate.pick_sequence, p.candidate.location_code) for p in ordered]
    assert keys == sorted(keys)


@settings(max_examples=200, deadline=None)
@given(candidates=stock(), parts=st.lists(st.decimals(min_value=D("0.01"), max_value=30, places=2),
                                          min_size=1, max_size=5),
       strategy=st.sampled_from([Strategy.FEFO, Strategy.FIFO, Strategy.CLOSEST_BIN]))
def test_allocating_lines_together_equals_one_after_another(candidates, parts, strategy):
    """Shipments allocate same-product lines in one pass and share the picks out
    (split_picks); that must equal allocating the lines one after another."""
    from dataclasses import replace
    from app.domain.allocation import split_picks
    total = sum(parts, D(0))
    try:
        together = allocate(AllocationRequest(PRODUCT, total, strategy, ON), candidates)
    except InsufficientStock:
        return
    shared = split_picks(together, parts)
    pool = list(candidates)
    for part, picks in zip(parts, shared):
        one = allocate(AllocationRequest(PRODUCT, part, strategy, ON), pool)
        assert [(p.candidate.lot_number, p.candidate.location_code, p.quantity) for p in one] == \
               [(p.candidate.lot_number, p.candidate.location_code, p.quantity) for p in picks]
        taken = Counter()
        for p in one:
            taken[id(p.candidate)] += p.quantity
        pool = [c if id(c) not in taken else replace(c, quantity=c.quantity - taken[id(c)])
                for c in pool if c.quantity - taken.get(id(c), 0) > 0]
