"""Where a notification's record is shown: the page a click on it opens.
Paths only (no request needed), so the e-mail digest links the same pages."""
from __future__ import annotations

from app.meta.model import snake_case

# purpose-built pages; workflow documents get the generic document page
PAGES = {
    "Lot": "/stock/lot/{id}",
    "TransferOrder": "/transfers/{name}/",
}


def record_path(entity: str | None, record_id: int | None, record_name: str | None,
                workflow_entities=frozenset()) -> str | None:
    if not entity or record_id is None:
        return None
    if entity in PAGES:
        return PAGES[entity].format(id=record_id, name=record_name or record_id)
    if entity in workflow_entities:
        return f"/documents/{snake_case(entity)}/{record_id}/"
    return f"/{entity.lower()}view/show/{record_id}"


def inbox_path(notification_id: int) -> str:
    return f"/notifications/{notification_id}/"
