"""The Celery application. Durable settings: a task is acknowledged only after it finished,
and a task whose worker died is handed to the next worker."""

from __future__ import annotations

from celery import Celery

from ocr_service.config import Settings, get_settings

INGEST_TASK = "workers.tasks.ingest"
SWEEP_TASK = "workers.tasks.sweep_stale"
RETENTION_TASK = "workers.tasks.retention"


def make_celery(settings: Settings) -> Celery:
    app = Celery("ocr_service", broker=settings.resolved_broker_url, include=["workers.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.task_soft_time_limit_s,
        task_time_limit=settings.task_time_limit_s,
        # Must exceed the hard time limit, or Redis re-delivers a task that is still running. The embedded
        # SQLite transport has no such option (it hands its options to create_engine); there the beat
        # sweep re-sends documents whose worker lease expired.
        broker_transport_options=(
            {}
            if settings.is_embedded_broker
            else {"visibility_timeout": settings.broker_visibility_timeout_s}
        ),
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=settings.queue_name,
        worker_hijack_root_logger=False,
        timezone="Asia/Tokyo",
        beat_schedule={
            "sweep-stale-documents": {"task": SWEEP_TASK, "schedule": max(15.0, settings.stale_after_s / 2)},
            # ocr_service/retention: erase documents past their retention period, certify, expire the rest.
            "retention": {"task": RETENTION_TASK, "schedule": float(settings.retention_interval_s)},
        },
    )
    return app


celery_app = make_celery(get_settings())
