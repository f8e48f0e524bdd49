"""StudentVault settings: one module, every value from the environment (README lists them).

The defaults give the embedded demo: SQLite in STUDENTVAULT_HOME, a local master key file,
jobs run inline. Production switches behaviour on with variables, never with a second
settings tree.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

from studentvault.core.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# Everything an embedded instance keeps: database file, key files, certificates, SFTP folders.
STUDENTVAULT_HOME = Path(env_str("STUDENTVAULT_HOME", "var")).resolve()
STUDENTVAULT_HOME.mkdir(parents=True, exist_ok=True, mode=0o700)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one made on first run and kept in the home."""
    configured = env_str("SECRET_KEY")
    if configured:
        return configured
    path = STUDENTVAULT_HOME / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "studentvault.core.apps.CoreConfig",
    "studentvault.records.apps.RecordsConfig",
    "studentvault.web.apps.WebConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "studentvault" / "web" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "studentvault.web.context.site",
            ],
        },
    },
]

# DATABASE_URL: empty means the embedded SQLite file in STUDENTVAULT_HOME; postgres://... selects
# PostgreSQL.
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{STUDENTVAULT_HOME / 'studentvault.db'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "America/Denver")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = STUDENTVAULT_HOME / "static"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# The district this instance serves, as shown in the UI and used in password similarity checks.
DISTRICT_NAME = env_str("DISTRICT_NAME", "Demo Valley School District")

# HTTPS-only serving (the server speaks TLS itself; see `studentvault serve`).
SERVE_HOST = env_str("SERVE_HOST", "127.0.0.1")
SERVE_PORT = env_int("SERVE_PORT", 8443, minimum=1)
SERVE_HTTP_PORT = env_int("SERVE_HTTP_PORT", 8080, minimum=0)  # 0: no redirect listener
SERVE_WORKERS = env_int("SERVE_WORKERS", 2, minimum=1)
TLS_CERT_FILE = env_str("TLS_CERT_FILE", str(STUDENTVAULT_HOME / "tls" / "cert.pem"))
TLS_KEY_FILE = env_str("TLS_KEY_FILE", str(STUDENTVAULT_HOME / "tls" / "key.pem"))
SECURE_PROXY_SSL_HEADER = None
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

# Jobs: Celery over Redis when CELERY_BROKER_URL is set, otherwise inline in the caller.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
