"""What each role may do. Staff work with patients' conversations; admins keep the inbox itself
(the audit log) and, on purpose, cannot read conversations: least privilege for health data."""

from __future__ import annotations

VIEW_QUEUE = "view_queue"
VIEW_CONVERSATION = "view_conversation"
CLAIM = "claim"
CLOSE = "close"
EXPORT = "export"  # download or send the FHIR bundle
VIEW_AUDIT_LOG = "view_audit_log"

ROLES = {
    "staff": frozenset({VIEW_QUEUE, VIEW_CONVERSATION, CLAIM, CLOSE, EXPORT}),
    "admin": frozenset({VIEW_AUDIT_LOG}),
}


def may(role: str, permission: str) -> bool:
    return permission in ROLES.get(role, frozenset())
