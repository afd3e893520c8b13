"""A year of demo stock history, posted through the real inventory services.

``generate_history`` plays a deterministic (``random.Random(seed)``) sequence of
warehouse work over the demo warehouses until about ``moves`` stock moves were
posted by this run:

* receipts from suppliers: a new lot per product line with a plausible
  production and expiry date (a few short-dated lots), one line per serial for
  serial-tracked devices, about half the lines entered by GS1 scan; in the
  last tenth of the history most receipts with a class III device go through
  incoming inspection and stay in quarantine at receiving (there is no QA
  release service to post the release with),
* put-away of each other receipt from the receiving location into bins,
  sometimes split over two bins,
* shipments to hospitals, allocated by the services' default strategy (FEFO
  for products with a shelf life), asking only for what is allocatable.

Every document is one ``post_receipt`` / ``post_internal_move`` /
``post_shipment`` call in its own transaction, as the system actor. Nothing
here writes stock itself.

Dates: the services take "now" from ``ServiceContext.now()``; the history uses
a context whose clock is set per document, so documents, moves and lots carry
back-dated times spread over the past year (working hours, China time). The
window starts after the newest move already in the ledger, so the history never
runs backwards in time past stock that exists already (a second run, or a
database with real postings, gets a short window ending now).

Run safety: lot numbers, serials and delivery-note references carry the seed
and a run counter (``-42R1-``), the counter being one more than the highest
run of this seed found in the receipts' references, so running the command
again with the same seed adds a new history instead of colliding.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import re
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from app.actor import SYSTEM, acting_as
from app.domain.errors import DomainError
from app.domain.clock import utcnow
from app.inventory.internal_moves import post_internal_move
from app.inventory.receipts import post_receipt
from app.inventory.shipments import post_shipment
from app.stock.allocation import stock_candidates
from app.stock.items import SERIAL_TRACKED

log = logging.getLogger(__name__)

GS = "\x1d"
CST = dt.timedelta(hours=8)           # the demo warehouses work on China time
WORKDAY_START = dt.timedelta(hours=8, minutes=30)
WORKDAY_LENGTH = dt.timedelta(hours=9)
MAX_CONSECUTIVE_FAILURES = 50


class _SimulatedClock:
    """The simulated time of the document being posted: the context's clock."""

    def __init__(self, start: dt.datetime):
        self.time = start

    def __call__(self) -> dt.datetime:
        return self.time


@dataclass(frozen=True)
class _Product:
    """What the generator needs of a product, read once (ORM objects expire
    at every commit)."""
    id: int
    sku: str
    udi_di: str | None
    tracking: str
    risk_class: str | None
    implantable: bool
    shelf_life_days: int | None
    min_remaining_shelf_days: int | None
    unit_price: Decimal


@dataclass(frozen=True)
class _Warehouse:
    id: int
    code: str


@dataclass
class _Site:
    warehouse: _Warehouse
    receiving: str
    bins: list[str]
    hospitals: list[str]
    weight: int


def _utcnow() -> dt.datetime:
    return utcnow().replace(microsecond=0)


def _next_run(session, models, seed: int) -> int:
    """One more than the highest run of this seed recorded in receipt references."""
    R = models["Receipt"]
    prefix = f"DN-{seed}R"
    pattern = re.compile(rf"^DN-{seed}R(\d+)-")
    refs = session.execute(sa.select(R.reference).where(R.reference.like(f"{prefix}%"))).scalars()
    runs = [int(m.group(1)) for ref in refs if (m := pattern.match(ref or ""))]
    return max(runs, default=0) + 1


def _window(session, models, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The past year, or less: never before the newest move already posted."""
    M = models.table("stock_move")
    newest = session.execute(sa.select(sa.func.max(M.c.moved_at))).scalar_one()
    start = now - dt.timedelta(days=365)
    if newest is not None and newest + dt.timedelta(seconds=1) > start:
        start = min(newest + dt.timedelta(seconds=1), now)
    return start, now


def _sites(session, models) -> list[_Site]:
    W, L, P = models["Warehouse"], models["Location"], models["Partner"]
    hospitals = session.execute(sa.select(P).where(P.kind.in_(("hospital", "customer")))
                                .order_by(P.code)).scalars().all()
    sites = []
    for wh in session.execute(sa.select(W).where(W.active.isnot(False)).order_by(W.code)).scalars():
        locs = session.execute(sa.select(L.code, L.kind).where(
            L.warehouse_id == wh.id, L.kind.in_(("receiving", "bin")))
            .order_by(L.pick_sequence, L.code)).all()
        receiving = [c for c, k in locs if k == "receiving"]
        bins = [c for c, k in locs if k == "bin"]
        if not receiving or not bins or not hospitals:
            continue
        near = [h.code for h in hospitals if h.region_id == wh.region_id]
        weight = {"central": 4, "regional": 2}.get(wh.kind, 1)
        sites.append(_Site(_Warehouse(wh.id, wh.code), receiving[0], bins,
                           near or [h.code for h in hospitals], weight))
    return sites


def _receipt_size(product) -> tuple[int, int, int]:
    """(min, max, step) units of one lot on a delivery, by unit price."""
    price = product.unit_price
    if price < 1:
        return 1000, 6000, 500
    if price < 10:
        return 100, 2000, 50
    if price < 1000:
        return 20, 300, 10
    return 10, 60, 10


def _order_size(product, rng: random.Random) -> int:
    lo, hi, step = _receipt_size(product)
    return max(1, rng.randrange(lo // 10, hi // 5 + 1, max(1, step // 10)))


def _gs1(product, lot: str | None, expiry: dt.date | None, production: dt.date | None,
         serial: str | None) -> str:
    """The element string a scanner sends for this label (GS after a variable field)."""
    text = f"01{product.udi_di}"
    if production:
        text += f"11{production:%y%m%d}"
    if expiry:
        text += f"17{expiry:%y%m%d}"
    if lot:
        text += f"10{lot}" + (GS if serial else "")
    if serial:
        text += f"21{serial}"
    return text


class _History:
    def __init__(self, session, runtime, target: int, seed: int, run: int,
                 start: dt.datetime, end: dt.datetime):
        self.session = session
        self.models = runtime.models
        self.clock = _SimulatedClock(start)
        self.ctx = runtime.context(session, actor=SYSTEM, clock=self.clock)
        self.rng = random.Random(seed)
        self.target = target
        self.tag = f"{seed}R{run}"
        self.start, self.end = start, end
        self.last = start
        self.counts = {"receipts": 0, "put_aways": 0, "shipments": 0, "moves": 0}
        self.lot_seq = self.serial_seq = self.doc_seq = 0
        P, Partner = self.models["Product"], self.models["Partner"]
        self.products = [
            _Product(p.id, p.sku, p.udi_di, p.tracking, p.risk_class, bool(p.implantable),
                     p.shelf_life_days, p.min_remaining_shelf_days, p.unit_price or Decimal(0))
            for p in session.execute(sa.select(P).where(P.active.isnot(False))
                                     .order_by(P.sku)).scalars()]
        suppliers = session.execute(sa.select(Partner.code).where(Partner.kind == "supplier")
                                    .order_by(Partner.code)).scalars().all()
        # implantable devices come from one supplier, consumables from another
        self.supplier_of = {p.id: suppliers[0] if p.implantable else suppliers[-1]
                            for p in self.products} if suppliers else {}
        self.sites = _sites(session, self.models)
        # each product has a home bin per warehouse; overflow goes to the next one
        self.home = {(s.warehouse.id, p.id): i % len(s.bins)
                     for s in self.sites for i, p in enumerate(self.products)}

    # -- time -------------------------------------------------------------------
    def _tick(self, minutes: tuple[int, int] = (0, 0)) -> dt.datetime:
        """Simulated time of the next document: progress through the window in
        working hours, never backwards, never past ``end``."""
        span = self.end - self.start
        progress = min(self.counts["moves"] / self.target, 1.0)
        days = span.total_seconds() / 86400
        if days >= 2:
            x = progress * (days - 1)
            day = int(x)
            first = dt.datetime.combine((self.start + CST).date() + dt.timedelta(days=1),
                                        dt.time()) - CST
            t = first + dt.timedelta(days=day) + WORKDAY_START + WORKDAY_LENGTH * (x - day)
        else:
            t = self.start + span * progress
        if minutes != (0, 0):
            t = max(t, self.last + dt.timedelta(minutes=self.rng.randint(*minutes)))
        t = min(max(t, self.last), self.end).replace(microsecond=0)
        self.last = t
        self.clock.time = t
        return t

    # -- documents ----------------------------------------------------------------
    def _post(self, kind: str, fn, data: dict):
        try:
            with acting_as(SYSTEM), self.ctx.transaction():
                result = fn(self.ctx, data)
                doc = result[0] if isinstance(result, tuple) else result
                moves = len(doc.lines)  # before the commit expires the document
        except DomainError as exc:
            log.warning("demo history: %s not posted: %s", kind, exc.message)
            return False
        self.counts[kind] += 1
        self.counts["moves"] += moves
        return True

    def receipt(self, site: _Site) -> bool:
        rng = self.rng
        now = self._tick()
        today = (now + CST).date()
        supplier = rng.choice(sorted(set(self.supplier_of.values())))
        offered = [p for p in self.products if self.supplier_of[p.id] == supplier]
        chosen = rng.sample(offered, k=rng.randint(1, min(3, len(offered))))
        # class III devices go through incoming inspection; without a QA release
        # service in the history, only the last tenth of it is still waiting
        recent = self.counts["moves"] >= 0.9 * self.target
        inspection = recent and any(p.risk_class == "III" for p in chosen) and rng.random() < 0.7
        lines, received = [], []
        for product in chosen:
            self.lot_seq += 1
            production = today - dt.timedelta(days=rng.randint(15, 120))
            lot = expiry = None
            if product.tracking in ("lot", "lot_serial"):
                lot = f"{product.sku[:3]}{production:%y%m}-{self.tag}-{self.lot_seq:04d}"
            if product.shelf_life_days:
                expiry = production + dt.timedelta(days=product.shelf_life_days)
                if rng.random() < 0.07:  # a short-dated delivery: will sit and near expiry
                    expiry = today + dt.timedelta(days=rng.randint(150, 360))
            if product.tracking in SERIAL_TRACKED:
                units = [1] * rng.randint(2, 6)
            else:
                lo, hi, step = _receipt_size(product)
                units = [rng.randrange(lo, hi + 1, step)]
            by_scan = rng.random() < 0.5 and bool(product.udi_di) and len(lot or "") <= 20
            for qty in units:
                serial = None
                if product.tracking in SERIAL_TRACKED:
                    self.serial_seq += 1
                    serial = f"{product.sku[:2]}{self.tag}-{self.serial_seq:05d}"
                if by_scan and len(serial or "") <= 20:
                    line = {"barcode": _gs1(product, lot, expiry, production, serial),
                            "quantity": str(qty)}
                else:
                    line = {"product": product.sku, "lot_number": lot, "serial": serial,
                            "expiry_date": expiry if lot else None,
                            "production_date": production if lot else None,
                            "quantity": str(qty)}
                lines.append(line)
                received.append((product, lot, serial, qty))
        self.doc_seq += 1
        posted = self._post("receipts", post_receipt, {
            "supplier": supplier, "warehouse": site.warehouse.code, "inspection": inspection,
            "reference": f"DN-{self.tag}-{self.doc_seq:05d}", "lines": lines,
            "note": "awaiting incoming inspection" if inspection else None})
        if not posted:
            return False
        if not inspection:  # inspected goods wait in receiving for QA
            self.put_away(site, received)
        return True

    def put_away(self, site: _Site, received: list) -> None:
        rng = self.rng
        self._tick(minutes=(20, 120))
        lines = []
        for product, lot, serial, qty in received:
            home = self.home[(site.warehouse.id, product.id)]
            split = [qty]
            if serial is None and qty >= 20 and rng.random() < 0.3:
                first = int(qty * rng.choice((0.25, 0.4, 0.5)))
                split = [first, qty - first]
            for i, part in enumerate(split):
                lines.append({"product": product.sku, "lot": lot, "serial": serial,
                              "from_location": site.receiving,
                              "to_location": site.bins[(home + i) % len(site.bins)],
                              "quantity": str(part)})
        self._post("put_aways", post_internal_move, {
            "warehouse": site.warehouse.code, "reason": "put-away", "lines": lines})

    def shipment(self, site: _Site) -> bool:
        """A hospital order for what can be allocated; False when nothing can."""
        rng = self.rng
        now = self._tick()
        on_date = now.date()
        pool = stock_candidates(self.ctx, site.warehouse.id, {p.id for p in self.products})
        allocatable = {}
        for product in self.products:
            min_days = product.min_remaining_shelf_days or 0
            ok = [c for c in pool.get(product.id, []) if c.status == "available"
                  and (c.expiry_date is None or (c.expiry_date - on_date).days >= min_days)]
            if product.tracking in SERIAL_TRACKED:
                total = len({c.serial for c in ok if c.serial})
            else:
                total = int(sum((c.quantity for c in ok), Decimal(0)))
            if total > 0:
                allocatable[product.id] = (product, total)
        self.session.rollback()  # end the read transaction before the posting
        if not allocatable:
            return False
        options = [allocatable[k] for k in sorted(allocatable)]
        lines = []
        for product, total in rng.sample(options, k=rng.randint(1, min(3, len(options)))):
            wanted = (rng.randint(1, 2) if product.tracking in SERIAL_TRACKED
                      else _order_size(product, rng))
            lines.append({"product": product.sku, "quantity": str(min(wanted, total))})
        self.doc_seq += 1
        posted = self._post("shipments", post_shipment, {
            "customer": rng.choice(site.hospitals) if rng.random() < 0.85
            else rng.choice(sorted({h for s in self.sites for h in s.hospitals})),
            "warehouse": site.warehouse.code, "lines": lines,
            "reference": f"PO-{self.tag}-{self.doc_seq:05d}"})
        return posted

    def run(self) -> dict:
        if not self.sites or not self.products or not self.supplier_of:
            raise DomainError("demo history needs warehouses with receiving and bin locations, "
                              "products, suppliers and hospitals: load the demo data first",
                              zh="演示历史需要有收货区和货位的仓库、产品、供应商和医院：请先加载演示数据")
        weights = [s.weight for s in self.sites]
        failures = 0
        while self.counts["moves"] < self.target:
            site = self.rng.choices(self.sites, weights=weights)[0]
            done = self.rng.random() < 0.62 and self.shipment(site)
            if not done:
                done = self.receipt(site)
            failures = 0 if done else failures + 1
            if failures >= MAX_CONSECUTIVE_FAILURES:
                raise DomainError(f"demo history stopped: {failures} documents in a row "
                                  "could not be posted (see the log)",
                                  zh=f"演示历史已停止：连续 {failures} 张单据无法过账（见日志）")
        return dict(self.counts)


def generate_history(session, runtime, moves: int, seed: int = 42) -> dict:
    """Post receipts, put-aways and FEFO shipments until about ``moves`` stock
    moves exist from this run; returns counts of documents and moves."""
    if moves <= 0:
        return {"receipts": 0, "put_aways": 0, "shipments": 0, "moves": 0}
    models = runtime.models
    with acting_as(SYSTEM):
        run = _next_run(session, models, seed)
        start, end = _window(session, models, _utcnow())
        session.rollback()
        history = _History(session, runtime, moves, seed, run, start, end)
        session.rollback()
        return history.run()
