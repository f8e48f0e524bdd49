"""Project configuration. Importing the Celery app here makes it the current app, so that
``shared_task``s (``exchange.import``) are queued on the configured broker, not Celery's default."""

from .celery import app as celery_app

__all__ = ["celery_app"]
