"""The Celery application. Durable settings: a task is acknowledged only after it finished,
and a task whose worker died is handed to the next worker within seconds.

Recovery after a crash is layered:

1. A worker *child* killed mid-task: the parent sees it (``task_reject_on_worker_lost``) and the
   message goes back to the queue at once; the document's lease (``OCR_LEASE_TTL_S``, renewed by a
   heartbeat only while the worker lives) runs out within seconds, and the redelivered task, which
   waits for it (:func:`workers.tasks.ingest`), takes over.
2. A whole worker host gone: Redis gives its unacknowledged message to another worker after
   ``OCR_BROKER_VISIBILITY_TIMEOUT_S`` (default one minute, not kombu's hour), checked every
   ``OCR_BROKER_RESTORE_INTERVAL_S``.
3. Anything else (a lost publish, the embedded broker, which has no visibility timeout): beat's sweep.
"""

from __future__ import annotations

from celery import Celery
from celery.schedules import crontab

from ocr_service.config import Settings, get_settings

INGEST_TASK = "workers.tasks.ingest"
SWEEP_TASK = "workers.tasks.sweep_stale"
AUDIT_CHECKPOINT_TASK = "workers.tasks.audit_checkpoint"
AUDIT_VERIFY_TASK = "workers.tasks.audit_verify"
RETENTION_TASK = "workers.tasks.retention"


def make_celery(settings: Settings) -> Celery:
    app = Celery("ocr_service", broker=settings.resolved_broker_url, include=["workers.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.task_soft_time_limit_s,
        task_time_limit=settings.task_time_limit_s,
        # The embedded SQLite transport has no such options (it hands its options to create_engine).
        broker_transport_options=(
            {}
            if settings.is_embedded_broker
            else {
                "visibility_timeout": settings.broker_visibility_timeout_s,
                "unacked_restore_interval": settings.broker_restore_interval_s,
                # Scan Redis on every restore tick, so the interval above is the real period.
                "unacked_restore_throttle": 1,
            }
        ),
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=settings.queue_name,
        # Recognition goes to the OCR queue (GPU hosts); the sweep and retention to the light CPU queue.
        task_routes={
            INGEST_TASK: {"queue": settings.queue_name},
            SWEEP_TASK: {"queue": settings.maintenance_queue_name},
            RETENTION_TASK: {"queue": settings.maintenance_queue_name},
        },
        worker_hijack_root_logger=False,
        timezone="Asia/Tokyo",
        beat_schedule={
            "sweep-stale-documents": {
                "task": SWEEP_TASK,
                "schedule": max(15.0, settings.stale_after_s / 2),
                "options": {"queue": settings.maintenance_queue_name},
            },
            # Sign the audit chain head; then verify the whole log once a day (JST night).
            "audit-checkpoint": {
                "task": AUDIT_CHECKPOINT_TASK,
                "schedule": float(settings.audit_checkpoint_interval_s),
                "options": {"queue": settings.maintenance_queue_name},
            },
            "audit-verify-daily": {
                "task": AUDIT_VERIFY_TASK,
                "schedule": crontab(hour=3, minute=15),
                "options": {"queue": settings.maintenance_queue_name},
            },
            # ocr_service/retention: erase documents past their retention period, certify, expire the rest.
            "retention": {
                "task": RETENTION_TASK,
                "schedule": float(settings.retention_interval_s),
                "options": {"queue": settings.maintenance_queue_name},
            },
        },
    )
    return app


def declare_queues(settings: Settings) -> None:
    """Create every queue the service uses on its broker, before any process uses it.

    The embedded SQLite broker creates its tables and a queue's row on first use. Started together
    by ``ocr-service up``, the API, the worker and beat race for that: of 32 first publishes from
    four processes at once on a fresh broker, 5 failed (``UNIQUE constraint failed:
    kombu_queue.name``, or kombu retrying on a channel it had closed), and a failed publish leaves
    an upload queued until beat's sweep minutes later. With the queues declared first, 48 of 48
    went through.
    """
    from kombu.connection import Connection
    from kombu.entity import Exchange, Queue

    names = dict.fromkeys([settings.queue_name, settings.maintenance_queue_name, *settings.resolved_worker_queues])
    with Connection(settings.resolved_broker_url) as connection:  # type: ignore[no-untyped-call]
        channel = connection.default_channel
        for name in names:
            # Celery's own declaration of a queue: a direct exchange of the same name and key.
            Queue(name, Exchange(name, type="direct"), routing_key=name)(channel).declare()  # type: ignore[no-untyped-call]


celery_app = make_celery(get_settings())
