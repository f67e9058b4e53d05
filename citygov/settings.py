"""Django settings for citygov, read from the environment (see ``citygov.config`` and ``.env.example``)."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from citygov import config

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent

try:
    _env = config.environment()
    VAR_DIR = config.var_dir(_env, PROJECT_DIR)
    # Keys in a shared Redis (cache, job queue) start with this, so that two deployments can share one server.
    CACHE_PREFIX = _env.text("CITYGOV_CACHE_PREFIX", "citygov")
    # `make test` runs the suite in pytest-xdist worker processes side by side: each worker gets its own
    # state directory (test database file, file cache, queue) and its own Redis key prefix.
    _test_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if _test_worker:
        VAR_DIR = VAR_DIR / f"test-{_test_worker}"
        CACHE_PREFIX = f"{CACHE_PREFIX}-{_test_worker}"
    DEBUG = _env.boolean("CITYGOV_DEBUG", default=False)
    SECRET_KEY = config.secret_key(_env, VAR_DIR)
    ALLOWED_HOSTS = _env.host_list("CITYGOV_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
    REDIS_URL = _env.url("CITYGOV_REDIS_URL", schemes=("redis", "rediss", "unix"))
    _database_url = config.database_url(_env, VAR_DIR)
    LOGIN_MAX_FAILURES = _env.integer("CITYGOV_LOGIN_MAX_FAILURES", 5, minimum=1)
    LOGIN_LOCKOUT_MINUTES = _env.integer("CITYGOV_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
    SECURE_COOKIES = _env.boolean("CITYGOV_SECURE_COOKIES", default=False)
    API_ANON_RATE = _env.text("CITYGOV_API_ANON_RATE", "60/min")
    API_USER_RATE = _env.text("CITYGOV_API_USER_RATE", "2000/min")
    API_LOGIN_RATE = _env.text("CITYGOV_API_LOGIN_RATE", "10/min")
    HUEY_IMMEDIATE = _env.boolean("CITYGOV_HUEY_IMMEDIATE", default=False)
    POINTS_TERMINAL_RATE = _env.text("CITYGOV_TERMINAL_RATE", "600/min")
    POINTS_NOTICE_ADAPTER = _env.text("CITYGOV_POINTS_NOTICE_ADAPTER", "console")
    POINTS_YOY_ALERT_SHARE = _env.share("CITYGOV_POINTS_YOY_ALERT_SHARE", 0.5)
    # Settlement: who instructs which trust account, and the operator's Ed25519 key (the key itself,
    # or a file; never in the repository). Without a key, batches are built unsigned.
    POINTS_OPERATOR_NAME = _env.text("CITYGOV_POINTS_OPERATOR_NAME", "桃園市市民卡點數營運單位")
    POINTS_TRUST_BANK = _env.text("CITYGOV_POINTS_TRUST_BANK", "信託銀行（請設定 CITYGOV_POINTS_TRUST_BANK）")
    POINTS_TRUST_ACCOUNT = _env.text("CITYGOV_POINTS_TRUST_ACCOUNT", "000000000000")
    POINTS_SIGNING_KEY = _env.text("CITYGOV_POINTS_SIGNING_KEY", "")
    POINTS_SIGNING_KEY_FILE = _env.text("CITYGOV_POINTS_SIGNING_KEY_FILE", str(VAR_DIR / "points_signing_key.pem"))
    POINTS_SIGNING_KEY_PASSWORD = _env.text("CITYGOV_POINTS_SIGNING_KEY_PASSWORD", "")
    # Exchange: X-Road instance and member classes, the live sharing-grant look-up (dotted name).
    EXCHANGE = config.exchange_settings(_env)
    # SOC: the syslog listener's TLS files; e-mail (SOC reminders and incident notices) by SMTP, the
    # password from the environment only.
    SOC = config.soc_settings(_env)
    # Datagov link probe: networks (CIDR) and host names it may reach although they are not public
    # (by default it refuses private, loopback and link-local addresses); comma-separated.
    DATAGOV_PROBE_ALLOW = _env.text("CITYGOV_DATAGOV_PROBE_ALLOW", "")
    EMAIL_HOST = _env.text("CITYGOV_EMAIL_HOST", "localhost")
    EMAIL_PORT = _env.integer("CITYGOV_EMAIL_PORT", 25, minimum=1)
    EMAIL_HOST_USER = _env.text("CITYGOV_EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = _env.text("CITYGOV_EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = _env.boolean("CITYGOV_EMAIL_STARTTLS", default=False)
    EMAIL_TIMEOUT = 10
    DEFAULT_FROM_EMAIL = _env.text("CITYGOV_EMAIL_FROM", "citygov@localhost")
except config.ConfigError as exc:
    raise ImproperlyConfigured(f"citygov configuration error: {exc}") from None

VAR_DIR.mkdir(parents=True, exist_ok=True)
(VAR_DIR / "static").mkdir(exist_ok=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "huey.contrib.djhuey",
    "citygov.core",
    "citygov.agencies",
    "citygov.security",
    "citygov.soc",
    "citygov.datagov",
    "citygov.exchange",
    "citygov.points",
    "citygov.assistant",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "citygov.urls"
WSGI_APPLICATION = "citygov.wsgi.application"
ASGI_APPLICATION = "citygov.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "citygov.core.context_processors.navigation",
            ],
        },
    },
]

# --- database --------------------------------------------------------------------------------
DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL lets readers run beside one writer; IMMEDIATE takes the write lock at BEGIN so two writers
    # queue on the busy timeout instead of failing with "database is locked" on lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # One test database file per test run (process), so that two runs in one checkout never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-citygov-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache (rate limits, lock-out) -----------------------------------------------------------
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "citygov.core.cache.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": CACHE_PREFIX}}
else:
    # A file cache is shared by every worker process on one machine, unlike the local-memory cache.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(VAR_DIR / "cache")}}

# --- auth ------------------------------------------------------------------------------------
AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = ["citygov.core.auth.LockoutModelBackend"]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "core:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_AGE = 8 * 60 * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- i18n ------------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hant"
LANGUAGES = [("zh-hant", "繁體中文"), ("en", "English")]
# The project catalogue (citygov/locale) holds core, agencies, points and the shared templates; a
# domain app may keep its own catalogue in <app>/locale, which Django finds through the app. `make
# messages` runs makemessages inside such an app with CITYGOV_APP_CATALOGUE set, so that its strings
# land in the app's catalogue rather than the project's.
LOCALE_PATHS = [] if os.environ.get("CITYGOV_APP_CATALOGUE") else [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Taipei"
# Django's zh_Hant formats set no thousands separator; ours do, for templates that ask for grouping
# (``floatformat:"g"``). Grouping is not switched on globally: ids inside links must stay ungrouped.
FORMAT_MODULE_PATH = ["citygov.formats"]
USE_I18N = True
USE_TZ = True

# --- uploaded files (e.g. forensic reports): under the state directory, never in the code tree ---
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"

# --- static ----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "citygov.core.api.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["citygov.core.api.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "citygov.core.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"anon": API_ANON_RATE, "user": API_USER_RATE, "login": API_LOGIN_RATE},
    "EXCEPTION_HANDLER": "citygov.core.api.errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "citygov API",
    "DESCRIPTION": "The REST API of the citygov digital-governance platform (桃園市數位治理平台).",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AgencyKindEnum": "citygov.agencies.models.AgencyKind",
        "TransferKindEnum": "citygov.points.models.ledger.TransferKind",
        "AccountKindEnum": "citygov.points.models.ledger.AccountKind",
    },
}

# --- background jobs -------------------------------------------------------------------------
if REDIS_URL:
    HUEY = {"huey_class": "huey.RedisHuey", "name": CACHE_PREFIX, "url": REDIS_URL, "immediate": HUEY_IMMEDIATE}
else:
    HUEY = {"huey_class": "huey.SqliteHuey", "name": "citygov", "filename": str(VAR_DIR / "huey.sqlite3"),
            "immediate": HUEY_IMMEDIATE}
# Periodic jobs are scheduled in local time; Django sets the process time zone to TIME_ZONE (Asia/Taipei).
HUEY["utc"] = False
HUEY["consumer"] = {"workers": 2, "worker_type": "thread", "periodic": True}

# --- logging: personal data is masked before it is written (see citygov.core.logging) -----------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_personal_data": {"()": "citygov.core.logging.MaskPersonalDataFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_personal_data"]},
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
