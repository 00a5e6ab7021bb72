"""Import every model so metadata is complete (Alembic, create_all, mappers)."""

from ocr_service.audit.models import AuditEvent
from ocr_service.auth.models import ApiToken, LoginSession, User
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.forms.models import FormDefinition
from ocr_service.orgs.models import Organisation

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Document",
    "FieldResult",
    "FormDefinition",
    "LoginSession",
    "Organisation",
    "Page",
    "User",
]
