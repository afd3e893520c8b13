"""Compile ``Metadata`` into SQLAlchemy models.

Each compile gets its own declarative registry and ``MetaData``, so a changed
metadata set (a new field, a customization) compiles to fresh classes without a
code change. The engine's own tables (ledger, audit, history, jobs) are added
to the same ``MetaData`` by ``engine_tables``, a function the composition root
passes in, so they can hold foreign keys to products, lots and locations.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.orm import declarative_base, relationship

from app.domain.clock import utcnow
from app.meta.model import EntityMeta, FieldMeta, Metadata


@dataclass
class CompiledModels:
    """The result of a compile: model classes by entity name, and their tables."""

    meta: Metadata
    base: type
    models: dict[str, type] = field(default_factory=dict)

    @property
    def metadata(self) -> sa.MetaData:
        return self.base.metadata

    def __getitem__(self, entity: str) -> type:
        return self.models[entity]

    def table(self, name: str) -> sa.Table:
        return self.metadata.tables[name]


def column_type(f: FieldMeta) -> sa.types.TypeEngine:
    if f.type == "string":
        return sa.String(f.length or 140)
    if f.type == "text":
        return sa.Text()
    if f.type == "int":
        return sa.Integer()
    if f.type == "decimal":
        # Exact on PostgreSQL; on SQLite values are quantized back to `scale`.
        return sa.Numeric(18, f.scale, asdecimal=True)
    if f.type == "bool":
        return sa.Boolean()
    if f.type == "date":
        return sa.Date()
    if f.type == "datetime":
        return sa.DateTime()
    if f.type == "enum":
        # Stored as text, not a DB enum, so adding an option stays additive.
        return sa.String(max(32, *(len(o) for o in f.options)))
    if f.type == "json":
        return sa.JSON()
    raise ValueError(f"no column type for {f.type}")


def build_column(entity: EntityMeta, f: FieldMeta, meta: Metadata) -> sa.Column:
    kwargs: dict = {"nullable": not f.required, "index": f.index, "unique": f.unique or None}
    if f.default is not None:
        kwargs["default"] = f.default
    if f.type == "link":
        target = meta.entities[f.target].table
        return sa.Column(f.column, sa.Integer, sa.ForeignKey(f"{target}.id"),
                         nullable=not f.required, index=True, unique=f.unique or None)
    return sa.Column(f.column, column_type(f), **kwargs)


def _title(self) -> str:
    value = getattr(self, self.__entity__.title_field, None)
    return str(value) if value is not None else f"{self.__entity__.name} #{self.id}"


def compile_models(meta: Metadata,
                   engine_tables: Callable[[sa.MetaData, Metadata], None] | None = None,
                   ) -> CompiledModels:
    """Build one mapped class per entity, then their relationships."""
    base = declarative_base(metadata=sa.MetaData())
    compiled = CompiledModels(meta=meta, base=base)
    for entity in meta.entities.values():
        attrs: dict = {
            "__tablename__": entity.table,
            "__entity__": entity,
            "__str__": _title,
            "__repr__": lambda self: f"<{self.__entity__.name} {self.id}>",
            "id": sa.Column(sa.Integer, primary_key=True),
            "created_at": sa.Column(sa.DateTime, default=utcnow, nullable=False),
            "created_by": sa.Column(sa.String(64)),
            "updated_at": sa.Column(sa.DateTime, default=utcnow, onupdate=utcnow),
            "updated_by": sa.Column(sa.String(64)),
        }
        if entity.naming:
            attrs["name"] = sa.Column(sa.String(64), unique=True, index=True)
        if entity.table_of:
            parent = meta.entities[entity.table_of]
            attrs["parent_id"] = sa.Column(
                sa.Integer, sa.ForeignKey(f"{parent.table}.id", ondelete="CASCADE"),
                nullable=False, index=True)
        for f in entity.fields.values():
            if f.type != "table":
                attrs[f.column] = build_column(entity, f, meta)
        if entity.unique_together:
            attrs["__table_args__"] = tuple(
                sa.UniqueConstraint(*(entity.fields[n].column for n in group),
                                    name=f"uq_{entity.table}_{'_'.join(group)}")
                for group in entity.unique_together)
        compiled.models[entity.name] = type(entity.name, (base,), attrs)

    for entity in meta.entities.values():
        cls = compiled.models[entity.name]
        for f in entity.links():
            extra = {"remote_side": [cls.id]} if f.target == entity.name else {}
            setattr(cls, f.name, relationship(
                compiled.models[f.target], foreign_keys=[getattr(cls, f.column)], **extra))
        for f in entity.tables():
            child = compiled.models[f.target]
            setattr(cls, f.name, relationship(
                child, cascade="all, delete-orphan", order_by=child.id,
                back_populates="parent"))
            child.parent = relationship(cls, back_populates=f.name)
    if engine_tables is not None:
        engine_tables(compiled.metadata, meta)
    return compiled
