"""Build a patient's data export in the background (a large account has many files)."""

from celery import shared_task


@shared_task(name="exports.build_data_export", acks_late=True, soft_time_limit=600, time_limit=660)
def build_data_export_task(export_id):
    from exports import services

    try:
        services.data_export_build(export_id=export_id)
    except Exception as exc:
        services.data_export_fail(export_id=export_id, message=f"{type(exc).__name__}: {exc}")
        raise
