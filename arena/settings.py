"""Settings for the arena, read from the environment.

Defaults give the embedded, offline arena: SQLite under ``var/``, the simulated
market and the built-in scripted bots. ``DATABASE_URL`` and ``REDIS_URL`` scale
it out. Every bad value stops start-up with ``ImproperlyConfigured`` naming the
variable (see ``arena/env.py``).
"""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from arena.env import env_bool, env_choice, env_decimal, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ARENA_VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)

# A key that is only ever acceptable on a developer's machine.
DEV_SECRET_KEY = "arena-development-only-secret-key-never-use-this-in-production-0123"
SECRET_KEY = env_str("SECRET_KEY")
if not DEBUG:
    if not SECRET_KEY or SECRET_KEY == DEV_SECRET_KEY or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a private random value when DEBUG is off "
            '(for example: python -c "import secrets; print(secrets.token_urlsafe(50))").'
        )
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured(
            "SECRET_KEY is too weak: use at least 50 characters with at least 5 distinct ones."
        )
elif not SECRET_KEY:
    SECRET_KEY = DEV_SECRET_KEY

# Fernet key(s) for provider and wallet secrets, newest first, comma separated
# (several keys allow rotation). Derived from SECRET_KEY only in DEBUG.
ENCRYPTION_KEYS = env_list("ENCRYPTION_KEY")
if not ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "ENCRYPTION_KEY must be set when DEBUG is off: a Fernet key (python -c "
        '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
    )
for _key in ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "ENCRYPTION_KEY holds a value that is not a Fernet key (32 url-safe base64-encoded bytes)."
        ) from None

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django_admin_lightweight_date_hierarchy",  # the admin's date drill-down without a DISTINCT scan
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",  # API tokens for scripts, hashed at rest (the model is arena.ApiToken)
    "django_filters",
    "axes",  # locks out repeated failed logins, on the API and the admin alike
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc as static files: the docs work offline
    "channels",
    "django_celery_beat",
    "arena",
    "bots",
    "trading",
    "ledger",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # the Content-Security-Policy below, on every response
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Attributes the changes a request makes to its user and interface (the audit trail).
    "ledger.changes.ChangeActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",  # request.htmx: a page's fragment or the whole page
    "arena.web.base.StreamSeqMiddleware",  # where a page's socket resumes, read before its view
    # Last, as django-axes asks: it turns a lockout raised by a login into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "arena.urls"
WSGI_APPLICATION = "arena.wsgi.application"
ASGI_APPLICATION = "arena.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "arena.web.context.nav",  # the signed-in user's menu, the arena's name and flags
            ],
        },
    },
]


def _database(url: str) -> dict:
    """One database from DATABASE_URL: SQLite (default) or PostgreSQL."""
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{VAR_DIR / 'arena.sqlite3'}"
    try:
        config = dj_database_url.parse(url, conn_max_age=0)
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write
        # lock at BEGIN so two writers queue on busy_timeout instead of failing
        # with "database is locked" when a read transaction tries to upgrade.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    elif engine == "django.db.backends.postgresql":
        config["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
        config["CONN_HEALTH_CHECKS"] = True
    else:
        raise ImproperlyConfigured(
            f"DATABASE_URL uses {engine or 'an unknown engine'}: only sqlite:// and "
            "postgres:// URLs are supported."
        )
    return config


DATABASES = {"default": _database(env_str("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "arena.User"
# AxesStandaloneBackend first: it refuses a locked-out login before a password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Five wrong passwords for one username from one address lock that pair out for 15 minutes
# (locking the username alone would let anyone lock a user out). A success resets the count;
# an admin unlocks early with `manage.py axes_reset_username USERNAME`.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "arena.api.errors.lockout_response"
# New accounts through POST /api/auth/register/; off = only an admin creates users.
ARENA_REGISTRATION_OPEN = env_bool("ARENA_REGISTRATION_OPEN", True)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# bcrypt is listed so users imported from the legacy arena log in with their
# old passwords; Django re-hashes them with the first hasher on login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
]
LOGIN_URL = "/login/"  # the arena's own sign-in page (the admin has its own)
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# The browser libraries from package-lock.json (npm ci into node_modules/), served as our own files.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
                    ("vendor/lightweight-charts", NODE_MODULES / "lightweight-charts" / "dist")]
MEDIA_URL = "media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "arena.web.storage.StaticStorage"
    },
}

# Security: on by default whenever DEBUG is off, so `check --deploy` is clean.
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Scripts, fonts, images and connections only from this site (its own WebSocket included): no
# inline script, no eval, no other host. Styles may be inline (Redoc and Swagger UI insert
# <style> elements); Redoc searches in a worker made from a blob.
CONTENT_SECURITY_POLICY = {"DIRECTIVES": {
    "default-src": [SELF], "script-src": [SELF], "style-src": [SELF, UNSAFE_INLINE],
    "img-src": [SELF, "data:"], "font-src": [SELF], "connect-src": [SELF], "worker-src": [SELF, "blob:"],
    "object-src": [NONE], "base-uri": [SELF], "form-action": [SELF], "frame-ancestors": [NONE],
}}
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]  # load-balancer probes speak plain HTTP
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("SECURE_PROXY_SSL_HEADER", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Redis carries Celery's queue and the channel layer between processes. Without
# it the arena runs in one process: tasks run inline and events stay in memory.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(
        f"REDIS_URL={REDIS_URL!r} must start with redis://, rediss:// or unix://."
    )


# Redis connections each web process may hold for the live stream: every socket's connect,
# heartbeat and disconnect is a Redis command in flight, and redis-py's pool (100 by default)
# refuses one more instead of waiting, so a burst of reconnecting browsers got HTTP 500s.
REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 2000, minimum=10)


def channel_layer_host(url: str, max_connections: int = REDIS_MAX_CONNECTIONS) -> dict:
    """One channels-redis host entry for ``url``, with timeouts that suit its blocking reads.

    Given a bare URL, channels-redis builds its pool with ``ConnectionPool.from_url(url)``
    and redis-py (7+) then applies its default ``socket_timeout`` of 5 s
    (``redis/_defaults.py``). channels-redis waits for messages with a blocking
    BZPOPMIN of ``brpop_timeout`` = 5 s, so on an idle socket the client's read times out
    exactly when Redis would have answered: ``redis.exceptions.TimeoutError`` inside the
    consumer's receive loop, and daphne closes every quiet WebSocket with 1011 after ~5 s.
    The read timeout therefore sits well above the blocking read; keepalive and a health
    check still notice a dead Redis connection.
    """
    host: dict = {
        "address": url,
        "socket_timeout": 30,  # > channels-redis brpop_timeout (5 s), with room to spare
        "socket_connect_timeout": 5,
        "health_check_interval": 15,  # PING a pooled connection idle this long before reuse
        "max_connections": max_connections,
    }
    if not url.startswith("unix://"):
        host["socket_keepalive"] = True  # TCP only: redis-py's unix connection refuses it
    return host


if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # group_expiry (86400 s by default) drops a channel from its groups a day after
            # it joined; the consumer re-joins its groups on every heartbeat to renew it.
            "CONFIG": {"hosts": [channel_layer_host(REDIS_URL)]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
# At-least-once delivery: a task whose worker dies is delivered again, so every
# task is written to be idempotent (claims, unique keys).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 540, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "arena.api.auth.SessionAuthentication",  # the browser: CSRF enforced
        "arena.api.auth.TokenAuthentication",  # scripts: "Authorization: Token …"
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "arena.api.pagination.Cursor",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "arena.api.errors.handler",
    "DEFAULT_THROTTLE_RATES": {
        # Per client address, on the views that take a password.
        "login": env_str("ARENA_LOGIN_RATE", "20/min"),
        "register": env_str("ARENA_REGISTER_RATE", "10/hour"),
        # Per user: each test of a provider is a real call to its vendor.
        "probe": env_str("ARENA_PROBE_RATE", "12/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "COERCE_DECIMAL_TO_STRING": True,  # money leaves as exact decimal strings, never floats
}
CSRF_FAILURE_VIEW = "arena.api.errors.csrf_failure"  # JSON under /api/
KNOX_TOKEN_MODEL = "arena.ApiToken"
# knox's own migrations would create its AuthToken table even though arena.ApiToken
# replaces it (they predate the swappable model); without migrations the swapped-out model
# gets no table, so nothing references users that a database flush does not know about.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env_int("ARENA_TOKEN_TTL_DAYS", 30, minimum=1)),
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_PREFIX": "arena_",  # so a leaked token is recognisable (and secret scanners can match it)
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Arena API",
    # The docs page's introduction: authentication, roles, errors, lists.
    "DESCRIPTION": (BASE_DIR / "arena" / "api" / "description.md").read_text(encoding="utf-8").strip(),
    "VERSION": "1.0.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],  # the docs are public
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "arena.api.schema.standard_errors",  # the framework's errors on every operation they apply to
    ],  # write-only fields (keys, passwords) appear in requests only
    "ENUM_NAME_OVERRIDES": {
        "BotModeEnum": "bots.models.Bot.Mode",
        "ProviderKindEnum": "bots.models.LLMProvider.Kind",
        "RoleEnum": "arena.models.User.Role",
        "CloseReasonEnum": "trading.models.CloseReason",
        "SideEnum": "trading.models.Side",
    },
    # From drf-spectacular-sidecar's static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# The arena itself.
REAL_TRADING_ENABLED = env_bool("REAL_TRADING_ENABLED", False)
ARENA_MARKET_FEED = env_choice("ARENA_MARKET_FEED", "simulated", ["simulated", "binance", "aster"])
ARENA_SIM_SPEED = env_decimal("ARENA_SIM_SPEED", "1", positive=True)
# The simulated market's seed: every process with the same seed sees the same prices.
ARENA_SIM_SEED = env_str("ARENA_SIM_SEED", "arena")
# Another Binance-compatible REST base URL (a testnet); empty = the feed's own.
ARENA_FEED_BASE_URL = env_str("ARENA_FEED_BASE_URL")
if ARENA_FEED_BASE_URL and not ARENA_FEED_BASE_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"ARENA_FEED_BASE_URL={ARENA_FEED_BASE_URL!r} must be an http(s) URL.")
# How the host of a URL a user gives (a provider's base URL) is resolved before the server
# calls it, so that every address it names can be checked (trading.outbound): a dotted path to
# a function from a host name to its addresses. The test settings point it at an offline table.
ARENA_OUTBOUND_RESOLVER = env_str("ARENA_OUTBOUND_RESOLVER", "trading.outbound.system_resolve")
# A turn holds each of its bots for this long and renews the hold while it is alive,
# so the bots of a worker that died mid-turn trade again at the next turn after it.
ARENA_TURN_LEASE_SECONDS = env_int("ARENA_TURN_LEASE_SECONDS", 60, minimum=3)
# A forced turn no worker has taken after this long is marked failed (and its queued task
# expires), so a user learns that no worker is running instead of waiting for ever.
ARENA_FORCED_TURN_WAIT_SECONDS = env_int("ARENA_FORCED_TURN_WAIT_SECONDS", 600, minimum=10)
# Every exchange order id this installation derives starts with this (so two arenas
# sharing an exchange account never take each other's orders): 1-8 letters or digits.
ARENA_ORDER_PREFIX = env_str("ARENA_ORDER_PREFIX", "arena")
if not re.fullmatch(r"[A-Za-z0-9]{1,8}", ARENA_ORDER_PREFIX):
    raise ImproperlyConfigured(f"ARENA_ORDER_PREFIX={ARENA_ORDER_PREFIX!r} must be 1-8 letters or digits.")
# Hosts a wallet's base URL may name over plain http (a venue on loopback; the tests' fake).
ARENA_EXCHANGE_HTTP_HOSTS = [h for h in env_str("ARENA_EXCHANGE_HTTP_HOSTS").split(",") if h]
# Every socket on /ws/arena/ gets a heartbeat event this often, so a browser can tell a
# live stream from a dead one (and the consumer renews its channel-layer groups).
ARENA_WS_HEARTBEAT_SECONDS = env_int("ARENA_WS_HEARTBEAT_SECONDS", 25, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_choice(
        "LOG_LEVEL", "info", ["debug", "info", "warning", "error", "critical"]
    ).upper()},
}
