"""Settings for the lineage dashboard, read from the environment.

With nothing set, the embedded defaults apply: SQLite under ``var/`` (WAL, IMMEDIATE transactions, busy timeout),
Celery tasks run inline, a secret key generated once into ``var/``. A bad value stops start-up with a message naming
the variable.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# Neither MLflow nor DVC may phone home from any process of the product.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

env = environ.Env()


def _bad(var: str, value: object, why: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"Environment variable {var}={value!r} is not valid: {why}")


def _get(var: str, cast: Any, default: Any) -> Any:
    """Read ``var`` with ``cast``; a value that does not parse fails start-up naming the variable."""
    raw = os.environ.get(var)
    if raw is None or raw == "":
        return default
    if cast is bool:
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise _bad(var, raw, "use true or false")
    try:
        return env(var, cast=cast)
    except (ValueError, TypeError, ImproperlyConfigured) as exc:
        raise _bad(var, raw, str(exc)) from exc


VAR_DIR = Path(_get("LINEAGE_VAR_DIR", str, str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "")
    if key:
        if len(key) < 32:
            raise _bad("SECRET_KEY", "…", "use at least 32 characters")
        return key
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _get("DEBUG", bool, False)
ALLOWED_HOSTS: list[str] = _get("ALLOWED_HOSTS", list, ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = _get("CSRF_TRUSTED_ORIGINS", list, [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise _bad("CSRF_TRUSTED_ORIGINS", _origin, "each origin starts with http:// or https://")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_celery_beat",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from our static files, not a CDN
    "apps.core",
    "apps.audit",
    "apps.mlflow_sync",
    "apps.dvc_sync",
    "apps.lineage",
    "apps.promotions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.audit.middleware.RequestIdMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "lineage_site.urls"
WSGI_APPLICATION = "lineage_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.layout",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------------
_SUPPORTED_ENGINES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}


def _database() -> dict[str, Any]:
    raw = os.environ.get("DATABASE_URL", "")
    if raw:
        try:
            config = env.db_url_config(raw)
        except Exception as exc:  # django-environ raises several types for a malformed URL
            raise _bad("DATABASE_URL", raw, str(exc)) from exc
        if config.get("ENGINE") not in _SUPPORTED_ENGINES:
            raise _bad("DATABASE_URL", raw, "use postgres://… or sqlite:///…")
        if config["ENGINE"].endswith("sqlite3") and not config.get("NAME"):
            raise _bad("DATABASE_URL", raw, "a sqlite URL needs a file name")
    else:
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "lineage.sqlite3")}
    if config["ENGINE"].endswith("sqlite3"):
        name = Path(config["NAME"])
        options = config.setdefault("OPTIONS", {})
        # WAL lets pages read while a sync writes; IMMEDIATE takes the write lock at BEGIN so two writers queue on
        # the busy timeout instead of failing with "database is locked" half-way through a transaction.
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault("timeout", 30)
        options.setdefault(
            "init_command",
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;",
        )
        config["TEST"] = {"NAME": str(name.with_name(name.stem + "-test.sqlite3"))}
    else:
        config.setdefault("CONN_MAX_AGE", 60)
        config.setdefault("CONN_HEALTH_CHECKS", True)
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery ---------------------------------------------------------------------------------------------------
REDIS_URL: str = os.environ.get("REDIS_URL", "")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise _bad("REDIS_URL", REDIS_URL, "use redis://host:port/db")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = _get("CELERY_QUEUE", str, "lineage")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
SYNC_INTERVAL_SECONDS: int = _get("SYNC_INTERVAL_SECONDS", int, 300)
if SYNC_INTERVAL_SECONDS < 10:
    raise _bad("SYNC_INTERVAL_SECONDS", SYNC_INTERVAL_SECONDS, "use 10 seconds or more")
# --- Audit log ------------------------------------------------------------------------------------------------
# The chain head (sequence number and hash) is written outside the database this often: to the log and to this file.
AUDIT_ANCHOR_INTERVAL_SECONDS: int = _get("AUDIT_ANCHOR_INTERVAL_SECONDS", int, 3600)
if AUDIT_ANCHOR_INTERVAL_SECONDS < 10:
    raise _bad("AUDIT_ANCHOR_INTERVAL_SECONDS", AUDIT_ANCHOR_INTERVAL_SECONDS, "use 10 seconds or more")
AUDIT_ANCHOR_FILE: str = _get("AUDIT_ANCHOR_FILE", str, str(VAR_DIR / "audit-anchors.log"))

# --- Promotions -----------------------------------------------------------------------------------------------
# A promotion MLflow could not be reached for is tried again after 5 s, 10 s, 20 s, … at most this far apart, and
# given up (failed) after PROMOTION_PENDING_MAX_HOURS.
PROMOTION_RETRY_BASE_SECONDS: int = _get("PROMOTION_RETRY_BASE_SECONDS", int, 5)
PROMOTION_RETRY_MAX_SECONDS: int = _get("PROMOTION_RETRY_MAX_SECONDS", int, 600)
PROMOTION_PENDING_MAX_HOURS: int = _get("PROMOTION_PENDING_MAX_HOURS", int, 24)
# An execution without an outcome for this long is taken as dead (its worker died) and is tried again.
PROMOTION_STALE_SECONDS: int = _get("PROMOTION_STALE_SECONDS", int, 300)
PROMOTION_SLOT_WAIT_SECONDS: int = 3
PROMOTION_MLFLOW_TIMEOUT_SECONDS: int = _get("PROMOTION_MLFLOW_TIMEOUT_SECONDS", int, 15)
PROMOTION_SWEEP_SECONDS: int = _get("PROMOTION_SWEEP_SECONDS", int, 30)
if PROMOTION_STALE_SECONDS <= 4 * PROMOTION_MLFLOW_TIMEOUT_SECONDS:
    # An execution beats its heart between MLflow calls; one call (with its retry) must fit well within it.
    raise _bad("PROMOTION_STALE_SECONDS", PROMOTION_STALE_SECONDS, "use more than 4 × PROMOTION_MLFLOW_TIMEOUT_SECONDS")
for _var in ("PROMOTION_RETRY_BASE_SECONDS", "PROMOTION_RETRY_MAX_SECONDS", "PROMOTION_PENDING_MAX_HOURS",
             "PROMOTION_STALE_SECONDS", "PROMOTION_MLFLOW_TIMEOUT_SECONDS", "PROMOTION_SWEEP_SECONDS"):  # fmt: skip
    if globals()[_var] < 1:
        raise _bad(_var, globals()[_var], "use a positive number")

# --- E-mail (promotion notifications) -------------------------------------------------------------------------
# EMAIL_URL as django-environ reads it, e.g. smtp+tls://user:password@smtp.example.com:587; unset: printed to the
# console of the process that sends it.
if os.environ.get("EMAIL_URL"):
    try:
        vars().update(env.email_url("EMAIL_URL"))
    except Exception as exc:  # django-environ raises several types for a malformed URL
        raise _bad("EMAIL_URL", "…", str(exc)) from exc
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL: str = _get("DEFAULT_FROM_EMAIL", str, "lineage-dashboard@localhost")
# The dashboard's address as people reach it: links in e-mails.
SITE_URL: str = _get("SITE_URL", str, "http://127.0.0.1:8000")
if not SITE_URL.startswith(("http://", "https://")):
    raise _bad("SITE_URL", SITE_URL, "start with http:// or https://")

CELERY_BEAT_SCHEDULE = {
    "sync-all-sources": {"task": "apps.core.tasks.sync_all_sources", "schedule": float(SYNC_INTERVAL_SECONDS)},
    "anchor-audit-head": {
        "task": "apps.audit.tasks.anchor_audit_head",
        "schedule": float(AUDIT_ANCHOR_INTERVAL_SECONDS),
    },
    "sweep-promotions": {"task": "apps.promotions.tasks.sweep_promotions", "schedule": float(PROMOTION_SWEEP_SECONDS)},
}

# --- Sync -----------------------------------------------------------------------------------------------------
# A sync whose heartbeat is older than this is taken as dead ("worker died") and no longer blocks its source.
SYNC_STALE_AFTER_SECONDS: int = _get("SYNC_STALE_AFTER_SECONDS", int, 600)
if SYNC_STALE_AFTER_SECONDS < 60:
    raise _bad("SYNC_STALE_AFTER_SECONDS", SYNC_STALE_AFTER_SECONDS, "use 60 seconds or more")
# The REST path re-lists running and recent runs each sync and reconciles everything every N syncs.
MLFLOW_REST_FULL_EVERY: int = _get("MLFLOW_REST_FULL_EVERY", int, 10)
MLFLOW_REST_RECENT_HOURS: int = _get("MLFLOW_REST_RECENT_HOURS", int, 48)
MLFLOW_DEFAULT_SOURCE_URI: str = os.environ.get("MLFLOW_TRACKING_URI", "")
# The product's own clones of DVC sources' git repositories (fetched on each sync; never the user's work tree).
DVC_REPOS_DIR = Path(_get("DVC_REPOS_DIR", str, str(VAR_DIR / "repos"))).resolve()

# --- Lineage --------------------------------------------------------------------------------------------------
# Run tags or params that name the DVC repository's commit a run trained from, when the data repository is not
# the code repository (evidence "data-commit"); comma-separated, first match wins.
LINEAGE_DATA_COMMIT_KEYS: list[str] = _get(
    "LINEAGE_DATA_COMMIT_KEYS", list, ["data_git_commit_id", "dvc_commit", "dvc.rev", "data_commit"]
)

# --- Auth, i18n, static ---------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = _get("TIME_ZONE", str, "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise serves from the finders too, but warns about a missing root
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG and _get("SECURE_COOKIES", bool, False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- REST API -------------------------------------------------------------------------------------------------
# Read-only JSON under /api/ (apps.lineage.api), exempt from the login redirect: DRF authenticates instead. The
# token class comes first so that an anonymous call gets 401 with a WWW-Authenticate challenge, not 403.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.core.api_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "apps.lineage.api.base.ApiPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Lineage dashboard API",
    "DESCRIPTION": (
        "Read-only lineage of MLflow model versions, runs and DVC data. Authenticate with an API token "
        "(`Authorization: Token <key>`, or `Bearer <key>`) or a logged-in session. Tokens allow GET only."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "tryItOutEnabled": True},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": _get("LOG_LEVEL", str, "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
