"""Demo data: regions and warehouses in China with bins, device products with
valid GTINs, suppliers, hospitals and carriers; optionally a year of stock
history (``moves``), generated deterministically from ``seed``."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from app.actor import SYSTEM, acting_as
from app.demo.history import generate_history

REGIONS = [("EC", "East China 华东"), ("NC", "North China 华北"),
           ("SC", "South China 华南"), ("SW", "Southwest 西南")]
WAREHOUSES = [
    # code, name, region, kind, lat, lon, address
    ("SH01", "Shanghai Central DC 上海中心仓", "EC", "central", "31.2304", "121.4737", "Pudong, Shanghai"),
    ("HZ01", "Hangzhou Regional 杭州区域仓", "EC", "regional", "30.2741", "120.1551", "Xiaoshan, Hangzhou"),
    ("BJ01", "Beijing Regional 北京区域仓", "NC", "regional", "39.9042", "116.4074", "Daxing, Beijing"),
    ("GZ01", "Guangzhou Regional 广州区域仓", "SC", "regional", "23.1291", "113.2644", "Baiyun, Guangzhou"),
    ("CD01", "Chengdu Satellite 成都前置仓", "SW", "satellite", "30.5728", "104.0668", "Shuangliu, Chengdu"),
]
PRODUCTS = [
    # sku, name, model, gtin-13 body (12 digits), class, tracking, shelf life, implantable, price
    ("CAT-0001", "Central venous catheter 中心静脉导管", "CVC-7F-20cm", "069012345678", "III", "lot", 1095, False, "320.00"),
    ("STN-0002", "Coronary stent 冠脉支架", "DES-3.0x18", "069012345679", "III", "lot_serial", 730, True, "6800.00"),
    ("SYR-0003", "Syringe 5 ml 一次性注射器", "SY-5ML", "069012345680", "II", "lot", 1825, False, "0.85"),
    ("GLV-0004", "Surgical gloves 外科手套", "SG-7.5", "069012345681", "II", "lot", 1095, False, "3.20"),
    ("PMK-0005", "Pacemaker 心脏起搏器", "PM-DR-200", "069012345682", "III", "serial", 1460, True, "42000.00"),
    ("BND-0006", "Elastic bandage 弹性绷带", "EB-10cm", "069012345683", "I", "none", None, False, "6.50"),
]
PARTNERS = [
    ("SUP-MDT", "Meditech Devices Co. 美迪泰医疗器械", "supplier", "EC"),
    ("SUP-HRT", "Heartline Medical 心线医疗", "supplier", "NC"),
    ("HOS-RJ", "Ruijin Hospital 瑞金医院", "hospital", "EC"),
    ("HOS-XH", "Xiehe Hospital 协和医院", "hospital", "NC"),
    ("HOS-ZS", "Zhongshan Hospital 中山医院", "hospital", "SC"),
    ("HOS-HX", "West China Hospital 华西医院", "hospital", "SW"),
    ("CAR-SF", "SF Express Cold Chain 顺丰冷运", "carrier", None),
    ("CAR-JD", "JD Logistics 京东物流", "carrier", None),
]
VIRTUAL_LOCATIONS = [("SUPPLIER", "supplier"), ("CUSTOMER", "customer"), ("SCRAP", "scrap"),
                     ("REPAIR", "repair"), ("LOSS", "loss"), ("TRANSIT", "transit")]


def gtin_check_digit(body: str) -> str:
    """GS1 mod-10 check digit for a GTIN body (without its check digit)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def gtin14(body12: str) -> str:
    gtin13 = body12 + gtin_check_digit(body12)
    return "0" + gtin13


def load_demo_data(session, runtime, moves: int = 0, seed: int = 42) -> dict:
    """Create the demo master data if it is not there yet (idempotent)."""
    m = runtime.models
    Region, Warehouse, Location = m["Region"], m["Warehouse"], m["Location"]
    Product, Partner = m["Product"], m["Partner"]
    with acting_as(SYSTEM):
        if session.execute(sa.select(sa.func.count()).select_from(Region)).scalar_one() == 0:
            regions = {code: Region(code=code, name=name) for code, name in REGIONS}
            session.add_all(regions.values())
            for code, kind in VIRTUAL_LOCATIONS:
                session.add(Location(code=code, name=code.title(), kind=kind))
            for code, name, region, kind, lat, lon, address in WAREHOUSES:
                wh = Warehouse(code=code, name=name, region=regions[region], kind=kind,
                               latitude=Decimal(lat), longitude=Decimal(lon), address=address,
                               min_remaining_shelf_days=90 if kind == "satellite" else 30,
                               temperature_zones="ambient,2-8C", active=True)
                session.add(wh)
                session.add(Location(code=f"{code}-RCV", name="Receiving 收货区", kind="receiving",
                                     warehouse=wh, zone="RCV", pick_sequence=0))
                seq = 10
                for aisle in ("A", "B"):
                    for level in (1, 2, 3):
                        session.add(Location(code=f"{code}-{aisle}-01-{level:02d}", kind="bin",
                                             warehouse=wh, zone=aisle, pick_sequence=seq,
                                             x=Decimal(ord(aisle) - 64), y=Decimal(level)))
                        seq += 10
            for sku, name, model, body, risk, tracking, life, implant, price in PRODUCTS:
                session.add(Product(
                    sku=sku, name=name, model=model, udi_di=gtin14(body), issuing_agency="gs1",
                    registration_no=f"国械注准2024{body[-7:]}", risk_class=risk,
                    implantable=implant, tracking=tracking, shelf_life_days=life,
                    min_remaining_shelf_days=180 if life else None, uom="EA",
                    unit_price=Decimal(price), storage_temp_min=Decimal("2"),
                    storage_temp_max=Decimal("30"), active=True))
            for code, name, kind, region in PARTNERS:
                session.add(Partner(code=code, name=name, kind=kind,
                                    region=regions.get(region) if region else None))
            session.commit()
        summary = {
            "regions": session.execute(sa.select(sa.func.count()).select_from(Region)).scalar_one(),
            "warehouses": session.execute(sa.select(sa.func.count()).select_from(Warehouse)).scalar_one(),
            "products": session.execute(sa.select(sa.func.count()).select_from(Product)).scalar_one(),
        }
    if moves:
        summary.update(generate_history(session, runtime, moves=moves, seed=seed))
    return summary
