"""The project's settings plus one bench-only route (see urls.py). Used only by
bench/bench_api.py through DJANGO_SETTINGS_MODULE=api_baseline.settings."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "api_baseline.urls"
