"""Roles from metadata, FAB permissions, and the warehouse data scope.

Permissions are FAB permissions named ``can_<verb>`` on a view-menu named after
the entity (``can_read on Product``), shared by the entity's screen and its REST
API. ``sync_permissions`` writes them; it runs in ``flask medtrace sync``, never
at a worker's boot (FAB_UPDATE_PERMS is off).
"""
from __future__ import annotations

from typing import Iterable

import sqlalchemy as sa

from app.actor import Actor
from app.meta.loader import ENGINE_TARGETS
from app.meta.model import Metadata
from app.meta.schemas import PERMISSIONS

ADMIN_ROLE = "Admin"

# Which FAB view/API method needs which metadata permission.
METHOD_PERMISSIONS = {
    # ModelView
    "list": "read", "show": "read", "api": "read", "api_read": "read", "api_get": "read",
    "api_column_add": "create", "api_column_edit": "write", "api_readvalues": "read",
    "add": "create", "edit": "write", "delete": "delete", "download": "export",
    "action": "write", "action_post": "write", "export_csv": "export",
    # ModelRestApi
    "get": "read", "get_list": "read", "info": "read", "related": "read", "distinct": "read",
    "post": "create", "put": "write",
}


def role_names(user) -> set[str]:
    return {r.name for r in getattr(user, "roles", []) or []}


def resolve_scope(session, models, meta: Metadata, user) -> frozenset[int] | None:
    """Warehouse ids the user may see, or None for every warehouse.

    FAB's Admin and any role with scope ``all`` see everything. Otherwise the
    user's AccessGrant rows give warehouses and, for ``regions`` roles, every
    warehouse of a granted region.
    """
    names = role_names(user)
    if ADMIN_ROLE in names:
        return None
    roles = [meta.roles[n] for n in names if n in meta.roles]
    if any(r.scope == "all" for r in roles):
        return None
    Grant, Warehouse = models["AccessGrant"], models["Warehouse"]
    grants = session.execute(
        sa.select(Grant.warehouse_id, Grant.region_id).where(Grant.username == user.username)
    ).all()
    warehouses = {w for w, _ in grants if w is not None}
    regions = {r for _, r in grants if r is not None}
    if regions and any(r.scope == "regions" for r in roles):
        warehouses |= set(session.execute(
            sa.select(Warehouse.id).where(Warehouse.region_id.in_(regions))).scalars())
    return frozenset(warehouses)


def actor_for(session, models, meta: Metadata, user) -> Actor:
    return Actor(
        username=user.username, user_id=user.id, roles=frozenset(role_names(user)),
        warehouse_ids=resolve_scope(session, models, meta, user),
    )


def sync_permissions(appbuilder, meta: Metadata,
                     pages: Iterable[tuple[str, str, str]] = ()) -> dict:
    """Create every entity permission, give Admin all of them, and set each
    metadata role's permissions exactly as roles.yaml says."""
    sm = appbuilder.sm
    appbuilder.add_permissions(update_perms=True)  # FAB's own views and our pages
    created = 0
    admin = sm.find_role(ADMIN_ROLE) or sm.add_role(ADMIN_ROLE)
    for entity in meta.entities:
        for verb in PERMISSIONS:
            pvm = sm.add_permission_view_menu(f"can_{verb}", entity)
            sm.add_permission_role(admin, pvm)
            created += 1
    for role in meta.roles.values():
        fab_role = sm.find_role(role.name) or sm.add_role(role.name)
        wanted = []
        for entity, verbs in role.permissions.items():
            wanted += [sm.add_permission_view_menu(f"can_{v}", entity) for v in sorted(verbs)]
            if "read" in verbs:
                wanted.append(sm.add_permission_view_menu("menu_access", entity))
                module = (meta.entities[entity].module if entity in meta.entities
                          else ENGINE_TARGETS[entity])
                wanted.append(sm.add_permission_view_menu("menu_access", module))
        for page, entity, verb in pages:  # purpose-built pages: shown where they can open
            if role.allows(entity, verb):
                wanted.append(sm.add_permission_view_menu("menu_access", page))
                module = meta.entities[entity].module
                wanted.append(sm.add_permission_view_menu("menu_access", module))
        for view, perm in (("UserInfoEditView", "can_this_form_get"),
                           ("UserInfoEditView", "can_this_form_post"),
                           ("ResetMyPasswordView", "can_this_form_get"),
                           ("ResetMyPasswordView", "can_this_form_post"),
                           ("UserDBModelView", "can_userinfo"),
                           ("MedTraceIndexView", "can_index")):
            wanted.append(sm.add_permission_view_menu(perm, view))
        fab_role.permissions = [p for p in wanted if p is not None]
        sm.session.merge(fab_role)
    sm.session.commit()
    return {"entity_permissions": created, "roles": sorted(meta.roles)}


class FabDirectory:
    """Users, roles and passwords from Flask-AppBuilder's security store: what
    services see as ``ServiceContext.directory``."""

    def __init__(self, security_manager, session, models, meta: Metadata):
        self.sm, self.session, self.models, self.meta = security_manager, session, models, meta

    def verify_password(self, username: str, password: str) -> bool:
        """Electronic signatures re-check the signer's password. A wrong one
        returns False and is recorded (``auth_failure``, kind ``signature``);
        while the account is locked after repeated failures, and on the failure
        that locks it, ``app.auth.lockout.AccountLocked`` (a Forbidden, 403, in
        English and Chinese) is raised instead, whatever the password."""
        return self.sm.verify_password_attempt(username, password, kind="signature")

    def users_with_roles(self, roles) -> list[tuple[str, frozenset[int] | None]]:
        """(user name, warehouse scope) of active users holding any of ``roles``."""
        wanted = {ADMIN_ROLE if r == "admin" else r for r in roles}
        return [(user.username, actor_for(self.session, self.models, self.meta, user).warehouse_ids)
                for user in self.sm.get_all_users()
                if user.is_active and wanted & role_names(user)]
