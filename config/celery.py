"""The Celery app: jobs over Redis when CELERY_BROKER_URL is set; without it tasks run inline
(``CELERY_TASK_ALWAYS_EAGER`` in settings). Start a worker with
``celery -A config.celery worker``."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("studentvault")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
