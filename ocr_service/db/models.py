"""Import every model so metadata is complete (Alembic, create_all, mappers)."""

from ocr_service.audit.models import AuditChainHead, AuditEvent
from ocr_service.auth.models import ApiToken, LoginFailure, LoginSession, PasswordHistory, User
from ocr_service.bridges.models import Bridge
from ocr_service.documents.models import Batch, Document, FieldResult, Page, UploadReceipt
from ocr_service.export.models import CharMapping, ExportRecord
from ocr_service.forms.models import FormDefinition, FormDraft
from ocr_service.orgs.models import Organisation
from ocr_service.retention.models import DeletionCertificate, DocumentTombstone
from ocr_service.review.models import BlindEntry
from ocr_service.review.outcomes import FieldOutcome

__all__ = [
    "ApiToken",
    "AuditChainHead",
    "AuditEvent",
    "Batch",
    "BlindEntry",
    "Bridge",
    "CharMapping",
    "DeletionCertificate",
    "Document",
    "DocumentTombstone",
    "ExportRecord",
    "FieldOutcome",
    "FieldResult",
    "FormDefinition",
    "FormDraft",
    "LoginFailure",
    "LoginSession",
    "Organisation",
    "Page",
    "PasswordHistory",
    "UploadReceipt",
    "User",
]

# Registers the personal-data filter with the scoping mechanism (needs every model above).
import ocr_service.documents.personal_data  # noqa: F401
