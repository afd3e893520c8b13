"""Generated REST APIs: one Flask-AppBuilder ModelRestApi per entity at
/api/v1/<resource>/, sharing the entity's permissions and scope with its screen."""
from __future__ import annotations

from flask_appbuilder import ModelRestApi

from app.crud.common import columns_of, labels, related_filters, scope_filters
from app.crud.interface import EntityInterface
from app.domain.errors import DomainError
from app.i18n import current_language
from app.meta.model import EntityMeta, Metadata
from app.security import METHOD_PERMISSIONS


class MedTraceRestApi(ModelRestApi):
    """Generated API: domain errors answer with their status and message."""

    allow_browser_login = True

    def _domain(self, call, *args):
        try:
            return call(*args)
        except DomainError as exc:
            self.datamodel.session.rollback()
            return self.response(exc.status, **exc.to_dict(current_language()))

    def post_headless(self):
        return self._domain(super().post_headless)

    def put_headless(self, pk):
        return self._domain(super().put_headless, pk)

    def delete_headless(self, pk):
        return self._domain(super().delete_headless, pk)


def build_api(model, meta: Metadata) -> type:
    entity: EntityMeta = model.__entity__
    form = meta.form(entity.name)
    cols = columns_of(entity, form, for_api=True)
    rel = related_filters(entity, meta)
    attrs = {
        "datamodel": EntityInterface(model),
        "resource_name": entity.resource,
        "class_permission_name": entity.name,
        "method_permission_name": METHOD_PERMISSIONS,
        "list_columns": cols["list"],
        "show_columns": cols["show"],
        "add_columns": cols["add"],
        "edit_columns": cols["edit"],
        "search_columns": list(form.search_columns) or cols["add"][:6],
        "order_columns": [c for c in cols["list"] if "." not in c],
        "label_columns": labels(entity),
        "base_filters": scope_filters(model, meta),
        "add_query_rel_fields": rel,
        "edit_query_rel_fields": rel,
        "openapi_spec_tag": entity.name,
    }
    if not entity.editable:
        attrs["include_route_methods"] = {"get", "get_list", "info"}
    return type(f"{entity.name}Api", (MedTraceRestApi,), attrs)
