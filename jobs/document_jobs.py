"""Workflow tasks that run as jobs after the transition commits (``mode: job``
in a workflow file), such as ``notify_approvers``."""
from __future__ import annotations

from app.documents.engine import run_task as run_document_task
from app.jobqueue import job_context


def run_task(task: str, entity: str, document_id: int):
    """Run the workflow task ``task`` on one document."""
    return run_document_task(job_context(), task, entity, document_id)
