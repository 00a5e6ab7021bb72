"""Import every model so metadata is complete (Alembic, create_all, mappers)."""

from ocr_service.audit.models import AuditChainHead, AuditEvent
from ocr_service.auth.models import ApiToken, LoginSession, User
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.export.models import CharMapping
from ocr_service.forms.models import FormDefinition, FormDraft
from ocr_service.orgs.models import Organisation
from ocr_service.retention.models import DeletionCertificate, DocumentTombstone
from ocr_service.review.models import BlindEntry
from ocr_service.review.outcomes import FieldOutcome

__all__ = [
    "ApiToken",
    "AuditChainHead",
    "AuditEvent",
    "BlindEntry",
    "CharMapping",
    "DeletionCertificate",
    "Document",
    "DocumentTombstone",
    "FieldOutcome",
    "FieldResult",
    "FormDefinition",
    "FormDraft",
    "LoginSession",
    "Organisation",
    "Page",
    "User",
]
