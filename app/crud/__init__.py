"""The generic CRUD layer: every compiled entity becomes a Flask-AppBuilder
screen (``screens``) and a REST API (``rest``). Class names derive from the
entity name once (``ProductView``, ``ProductApi``), and both share the
permission view-menu ``Product``, so permissions stay stable across restarts
and the same role rules govern screen and API.
"""
from __future__ import annotations

from app.crud.rest import build_api
from app.crud.screens import build_view
from app.i18n import lazy
from app.meta.compiler import CompiledModels


def register_entities(appbuilder, compiled: CompiledModels) -> None:
    """Add one screen (with its menu entry) and one REST API per entity."""
    meta = compiled.meta
    child_views = {}
    for entity in meta.entities.values():
        if entity.table_of:
            view = build_view(compiled[entity.name], meta)
            child_views.setdefault(entity.table_of, []).append(view)
            appbuilder.add_view_no_menu(view)
    for entity in sorted(meta.entities.values(), key=lambda e: (e.module, e.name)):
        model = compiled[entity.name]
        appbuilder.add_api(build_api(model, meta))
        if entity.table_of:
            continue
        view = build_view(model, meta, related=child_views.get(entity.name))
        module_label = meta.modules.get(entity.module, {"en": entity.module, "zh": entity.module})
        appbuilder.add_view(view, entity.name, label=lazy(entity.label),
                            icon="fa-table", category=entity.module,
                            category_label=lazy(module_label))
