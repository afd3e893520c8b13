"""Transfer workflow tasks that run as jobs after the transition commits.

``notify_approvers`` / ``notify_requester`` work out who must act next and
record it in the job's result (visible in the job_run record). Delivering the
message (mail, IM) is a channel MedTrace does not have yet.
"""
from __future__ import annotations

from app.jobqueue import job_context
from app.services.transfers import transfer_recipients


def notify_approvers(transfer_id: int) -> dict:
    """Users who may take the transfer's next approval, within their scope."""
    return transfer_recipients(job_context(), transfer_id, requester=False)


def notify_requester(transfer_id: int) -> dict:
    """The user who created the transfer (after a rejection)."""
    return transfer_recipients(job_context(), transfer_id, requester=True)
