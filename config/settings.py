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
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "axes",
    "oauth2_provider",
    "studentvault.core.apps.CoreConfig",
    "studentvault.crypto.apps.CryptoConfig",
    "studentvault.audit.apps.AuditConfig",
    "studentvault.people.apps.PeopleConfig",
    "studentvault.access.apps.AccessConfig",
    "studentvault.records.apps.RecordsConfig",
    "studentvault.reporting.apps.ReportingConfig",
    "studentvault.exchange.apps.ExchangeConfig",
    "studentvault.web.apps.WebConfig",
    "studentvault.api.apps.ApiConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "studentvault.web.security.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "studentvault.people.middleware.SessionLimitsMiddleware",
    "studentvault.access.guards.RouteRuleMiddleware",
    "axes.middleware.AxesMiddleware",
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
    # The embedded file is encrypted with SQLCipher, keyed from the KEK (docs/adr/0015). The
    # in-memory test database stays plain SQLite (nothing reaches a disk).
    if env_bool("DATABASE_ENCRYPTION", True):
        DATABASES["default"]["ENGINE"] = "studentvault.crypto.sqlcipher_backend"
        # Say so explicitly: test runners (pytest-django under xdist) recognise only the stock
        # engine name as SQLite and would otherwise derive a file name from NAME.
        DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side parameters and prepared statements: a statement run five times on a
    # connection is prepared, so PostgreSQL stops planning it again. Planning was a third of
    # the server's CPU on the API's one-student read (docs/adr/0079). "off" prepares nothing
    # (e.g. behind a pooler that cannot keep prepared statements); 0 prepares at once.
    _PREPARE = env_str("DATABASE_PREPARE_THRESHOLD", "5").strip().lower()
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True,
        prepare_threshold=(
            None if _PREPARE == "off" else env_int("DATABASE_PREPARE_THRESHOLD", 5, minimum=0)
        ),
    )
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
SERVE_THREADS = env_int("SERVE_THREADS", 2, minimum=1)  # request threads per worker (ADR 0079)
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
# HSTS preload is a domain-wide, hard-to-undo promise the district's DNS owner makes; opt in.
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", False)
# Silenced with reasons (docs/adr/0062): W008, the server speaks only TLS (granian) and its
# plain-HTTP listener only redirects, so Django never sees plain HTTP to redirect; W021,
# preload is opt-in (HSTS_PRELOAD).
SILENCED_SYSTEM_CHECKS = ["security.W008", *([] if SECURE_HSTS_PRELOAD else ["security.W021"])]

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # The API (studentvault.api): JSON only (no browsable API: it needs inline scripts), one
    # error shape {"code", "detail", "field"} (docs/adr/0061).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "studentvault.api.errors.api_exception_handler",
}
# Requests per actor (vendor client or staff account), DRF notation (docs/adr/0063).
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "600/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "StudentVault API",
    "DESCRIPTION": "Student records cut to the caller's grants or contract; every read audited.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

# Jobs: Celery over Redis when CELERY_BROKER_URL is set, otherwise inline in the caller.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL

# Data exchange (docs/runbooks/imports.md, docs/runbooks/sftp.md): the largest file one import or
# one SFTP upload may have, and the SFTP gateway's address.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 200 * 1024 * 1024)
# Files uploaded on the staff UI's import page wait here between preview and commit (empty:
# STUDENTVAULT_HOME/imports); Celery workers must see the same folder. Uploads neither committed
# nor discarded are deleted after IMPORT_STAGING_HOURS.
IMPORT_STAGING_DIR = env_str("IMPORT_STAGING_DIR")
IMPORT_STAGING_HOURS = env_int("IMPORT_STAGING_HOURS", 24)
# A first load on PostgreSQL applies its student-record files in this many forked worker
# processes at once (0: all in the importing process; docs/adr/0083).
IMPORT_WORKERS = env_int("IMPORT_WORKERS", 2)
SFTP_HOST = env_str("SFTP_HOST", "127.0.0.1")
SFTP_PORT = env_int("SFTP_PORT", 2222)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Identity and need-to-know access (issue 4; docs/architecture-access.md) ---------------
# Current version of the data policy staff must acknowledge before reading PII.
POLICY_VERSION = env_str("POLICY_VERSION", "2025-1")
# Days an annual security training counts for.
TRAINING_VALID_DAYS = env_int("TRAINING_VALID_DAYS", 365, minimum=1)
# School year in force (ending year, 2026 = 2025-26); 0 = computed (July 1 starts the next).
CURRENT_SCHOOL_YEAR = env_int("CURRENT_SCHOOL_YEAR", 0, minimum=0)
# Longest a break-glass grant may stay open.
BREAK_GLASS_MAX_HOURS = env_int("BREAK_GLASS_MAX_HOURS", 4, minimum=1)
# Vendor API clients: OAuth2 client credentials only, 1-hour tokens, no refresh tokens.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("OAUTH_ACCESS_TOKEN_SECONDS", 3600, minimum=60),
    "REFRESH_TOKEN_EXPIRE_SECONDS": 0,
    "OAUTH2_VALIDATOR_CLASS": "studentvault.people.oauth.ContractBoundValidator",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "PKCE_REQUIRED": True,
    "SCOPES": {"vendor:read": "Read the data elements the vendor's active contract names"},
    "DEFAULT_SCOPES": ["vendor:read"],
    # RFC 9700 (OAuth 2.0 Security BCP): the compliant behaviour everywhere (check --deploy).
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
}
# Passwords: length, offline breached list, similarity, history (docs/adr/0041, 0042).
PASSWORD_MIN_LENGTH = env_int("PASSWORD_MIN_LENGTH", 12, minimum=8)
PASSWORD_HISTORY_COUNT = env_int("PASSWORD_HISTORY_COUNT", 12, minimum=0)
PASSWORD_MAX_AGE_DAYS = env_int("PASSWORD_MAX_AGE_DAYS", 90, minimum=0)
PASSWORD_RESET_TIMEOUT = 3600
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "first_name", "last_name", "email")},
    },
    {"NAME": "studentvault.people.passwords.ContextSimilarityValidator"},
    {"NAME": "studentvault.people.passwords.BreachedPasswordValidator"},
    {"NAME": "studentvault.people.passwords.PasswordHistoryValidator"},
]
# Sign-in: allauth (account + MFA), axes lockout first in the backend chain (docs/adr/0043).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_MINUTES = env_int("AXES_COOLOFF_MINUTES", 15, minimum=1)
AXES_COOLOFF_TIME = AXES_COOLOFF_MINUTES / 60  # hours
# Locked per account and, separately, per client address.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "studentvault.people.network.axes_client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "studentvault.people.lockout.lockout_response"
AXES_USERNAME_CALLABLE = "studentvault.people.lockout.lockout_username"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "studentvault.people.adapters.AccountAdapter"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "StudentVault"
# Sessions: idle and absolute limits (enforced by studentvault.people.middleware).
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 15, minimum=1)
SESSION_MAX_HOURS = env_int("SESSION_MAX_HOURS", 8, minimum=1)
SESSION_COOKIE_AGE = SESSION_MAX_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# --- Encryption at rest (issue 3; docs/adr/0010-0016, docs/runbooks/keys.md) -----------------
# Master key provider: "file" (a 0600 key file in STUDENTVAULT_HOME/keys) or "vault" (HashiCorp
# Vault transit engine; VAULT_TOKEN may be given as VAULT_TOKEN_FILE).
KEK_PROVIDER = env_str("KEK_PROVIDER", "file")
VAULT_ADDR = env_str("VAULT_ADDR")
VAULT_TOKEN = env_str("VAULT_TOKEN")
VAULT_TRANSIT_KEY = env_str("VAULT_TRANSIT_KEY", "studentvault")
# Field encryption switch, for the benchmark comparison only: production keeps it on (a system
# check warns when it is off).
FIELD_ENCRYPTION = env_bool("FIELD_ENCRYPTION", True)
# How long a process trusts its cached keyset before checking for a rotation.
CRYPTO_KEYSET_CACHE_SECONDS = env_int("CRYPTO_KEYSET_CACHE_SECONDS", 30, minimum=0)

# --- Audit log, disclosures, monitoring (issue 5; docs/adr/0030-0035, docs/runbooks/audit.md) --
# A signed checkpoint of the chain head every N entries (0 = only by `studentvault audit
# checkpoint`, which a scheduler runs every few minutes).
AUDIT_CHECKPOINT_EVERY = env_int("AUDIT_CHECKPOINT_EVERY", 1000, minimum=0)
# Outside the database: checkpoint folder and Ed25519 signing key (defaults in STUDENTVAULT_HOME);
# AUDIT_VERIFY_KEY_FILE pins the public key an auditor verifies with.
AUDIT_CHECKPOINT_DIR = env_str("AUDIT_CHECKPOINT_DIR")
AUDIT_SIGNING_KEY_FILE = env_str("AUDIT_SIGNING_KEY_FILE")
AUDIT_VERIFY_KEY_FILE = env_str("AUDIT_VERIFY_KEY_FILE")
# Monitoring rules.
AUDIT_ALERTS_INLINE = env_bool("AUDIT_ALERTS_INLINE", True)
# Concurrent API reads in one process share one audit append (one flush; docs/adr/0065).
# Off by default: measured slower once the read path was cheap (docs/adr/0079); turn it on
# where the disk's flush, not the CPU, bounds the append rate.
AUDIT_GROUP_APPEND = env_bool("AUDIT_GROUP_APPEND", False)
AUDIT_BULK_READ_STUDENTS = env_int("AUDIT_BULK_READ_STUDENTS", 200, minimum=1)
AUDIT_BULK_READ_MINUTES = env_int("AUDIT_BULK_READ_MINUTES", 10, minimum=1)
AUDIT_WORK_HOURS = env_str("AUDIT_WORK_HOURS", "06:00-19:00")
AUDIT_FAILED_SIGNINS = env_int("AUDIT_FAILED_SIGNINS", 5, minimum=1)
AUDIT_FAILED_SIGNIN_MINUTES = env_int("AUDIT_FAILED_SIGNIN_MINUTES", 15, minimum=1)
SECURITY_CONTACT_EMAIL = env_str("SECURITY_CONTACT_EMAIL")
# Reverse proxies whose X-Forwarded-For is believed (CIDRs); empty = use the socket address.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
