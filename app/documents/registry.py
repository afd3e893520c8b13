"""What each business concept adds to the document engine, by name.

A workflow file names effects (``ship_goods``, ``reserve_stock``,
``notify_approvers``); a concept registers the function behind each name, and
optionally how to build the context its conditions read. ``create_app`` builds
one registry from every concept's ``register`` function, so a new document type
is a workflow file, an entity file and one small module of effects.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

# (ctx, document, details) -> None. ``details`` is what the user sent with the
# action (carrier, tracking number ...), already validated by ``schema``.
EffectFn = Callable[[Any, Any, dict], None]
# (ctx, document) -> the values the workflow's conditions read (a Mapping, may be lazy)
ContextFn = Callable[[Any, Any], Mapping[str, Any]]
# (session, document) -> None: recompute what a document derives from its lines
DeriveFn = Callable[[Any, Any], None]


@dataclass(frozen=True)
class Effect:
    name: str
    run: EffectFn
    # a marshmallow schema for the details this effect reads from the action's body
    schema: Any = None


@dataclass
class Registry:
    effects: dict[str, Effect] = field(default_factory=dict)
    contexts: dict[str, ContextFn] = field(default_factory=dict)
    # entity -> (models) -> loader options: what an action reads, loaded with the document
    loaders: dict[str, Callable[[Any], list]] = field(default_factory=dict)
    # entity -> (recompute, the line fields whose change calls for it)
    derivations: dict[str, tuple[DeriveFn, frozenset[str]]] = field(default_factory=dict)

    def effect(self, name: str, run: EffectFn, schema: Any = None) -> None:
        if name in self.effects:
            raise ValueError(f"effect {name!r} is registered twice")
        self.effects[name] = Effect(name, run, schema)

    def context(self, entity: str, build: ContextFn) -> None:
        self.contexts[entity] = build

    def load_with(self, entity: str, options: Callable[[Any], list]) -> None:
        """``options(models)``: SQLAlchemy loader options for what the conditions and
        effects of ``entity``'s actions read, so one query loads it all."""
        self.loaders[entity] = options

    def derive(self, entity: str, recompute: DeriveFn, line_fields: tuple[str, ...]) -> None:
        """``recompute(session, document)`` runs before every flush that adds the
        document, adds or removes one of its lines, or changes ``line_fields`` of
        one, whoever does it."""
        self.derivations[entity] = (recompute, frozenset(line_fields))

    def known(self) -> set[str]:
        """Effect names a workflow file may use."""
        return set(self.effects)
