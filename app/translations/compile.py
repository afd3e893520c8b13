"""Compile the .po catalogs under app/translations into the .mo files Flask-Babel
reads (``make translations``; a test checks they are in step)."""
from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

HERE = Path(__file__).resolve().parent


def compiled(po_path: Path) -> bytes:
    with po_path.open("rb") as f:
        catalog = read_po(f)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def main() -> None:
    for po in sorted(HERE.glob("*/LC_MESSAGES/*.po")):
        po.with_suffix(".mo").write_bytes(compiled(po))
        print(f"compiled {po.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
