"""What one running app knows: its metadata, compiled models and workflows.

Services receive a ``Runtime`` (or parts of it) explicitly; only the web layer
looks it up on ``current_app``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.meta.compiler import CompiledModels
from app.meta.model import Metadata


@dataclass
class Runtime:
    root: Path
    meta: Metadata
    models: CompiledModels
    workflows: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
