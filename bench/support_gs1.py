"""GS1 element strings as a scanner sends them, for the benchmarks."""
from __future__ import annotations


def gs1(gtin: str, lot: str | None = None, expiry=None, serial: str | None = None) -> str:
    text = f"01{gtin}"
    if expiry:
        text += f"17{expiry:%y%m%d}"
    if lot:
        text += f"10{lot}" + ("\x1d" if serial else "")
    if serial:
        text += f"21{serial}"
    return text
