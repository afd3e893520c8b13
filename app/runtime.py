"""What one running app knows: its metadata, compiled models, workflows, and
the collaborators services use. ``context`` builds a ServiceContext for one
request, job or command."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.actor import Actor, current_actor
from app.context import Directory, JobQueue, ServiceContext, Settings
from app.documents.registry import Registry
from app.meta.compiler import CompiledModels
from app.meta.model import Metadata


@dataclass
class Runtime:
    meta: Metadata
    models: CompiledModels
    settings: Settings
    workflows: dict[str, Any] = field(default_factory=dict)
    documents: Registry = field(default_factory=Registry)
    directory: Directory | None = None
    jobs: JobQueue | None = None
    # (menu name, entity, permission) of each purpose-built page, for permission sync
    pages: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def root(self):
        return self.settings.root

    def context(self, session, actor: Actor | None = None, **overrides) -> ServiceContext:
        return ServiceContext(session=session, models=self.models,
                              actor=actor or current_actor(), settings=self.settings,
                              workflows=self.workflows, documents=self.documents,
                              directory=self.directory,
                              jobs=self.jobs, **overrides)
