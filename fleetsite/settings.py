"""Fleetsite settings: read from the environment only, with an embedded zero-set-up default.

Unset `DATABASE_URL` means a SQLite file under the data directory; unset `REDIS_URL` means a
local-memory cache, an in-memory channel layer and Celery tasks run in-process.

Software installers are stored in S3 when `FLEETSITE_S3_SOFTWARE_INSTALLERS_BUCKET` is set (with
`FLEETSITE_S3_SOFTWARE_INSTALLERS_{PREFIX,REGION,ENDPOINT_URL,ACCESS_KEY_ID,SECRET_ACCESS_KEY}`),
else on disk under `FLEETSITE_SOFTWARE_INSTALLERS_DIR` (default: the data directory).
"""

from __future__ import annotations

import secrets
import tomllib
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from fleetsite.lib.cachesettings import redis_caches
from fleetsite.lib.env import env_bool, env_choice, env_float, env_int, env_list, env_str
from fleetsite.lib.netaddr import proxy_networks
from fleetsite.lib.publicurl import derived_allowed_hosts, server_url_parts

BASE_DIR = Path(__file__).resolve().parent.parent

# Certificates, carves, the SQLite file, later the TUF repository and packages.
DATA_DIR = Path(env_str("FLEETSITE_DATA_DIR") or BASE_DIR / "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """Use SECRET_KEY when given; otherwise keep one random key per data directory."""
    configured = env_str("SECRET_KEY")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
    return key_file.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)

# The one public URL of this server (https://fleet.example.com): agents, installers, the
# "Add hosts" page and emails use it, and the host names and CSRF origins below derive from it.
# Unset (the embedded default): every name is answered and pages use the URL they were opened with.
FLEETSITE_SERVER_URL = env_str("FLEETSITE_SERVER_URL").strip().rstrip("/")
try:
    _public = server_url_parts(FLEETSITE_SERVER_URL)
except ValueError as exc:
    raise ImproperlyConfigured(f"FLEETSITE_SERVER_URL: {exc}") from exc
# Extra DNS names and IP addresses that the certificate `serve --tls` makes covers (subjectAltName),
# beside the server URL's host, localhost and 127.0.0.1.
FLEETSITE_TLS_NAMES = env_list("FLEETSITE_TLS_NAMES")
# The operator's certificate chain and key (PEM files) that `serve` presents by default, as its
# --cert and --key do; GET /config/certificate and "Add hosts" hand the chain to agents.
FLEETSITE_TLS_CERT = env_str("FLEETSITE_TLS_CERT")
FLEETSITE_TLS_KEY = env_str("FLEETSITE_TLS_KEY")
# Agents reach the server under whatever name their package was built with: with a server URL,
# that name, the certificate's names and loopback; without one, any name. ALLOWED_HOSTS overrides.
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS",
    derived_allowed_hosts(_public.hostname, FLEETSITE_TLS_NAMES) if _public else ["*"],
)
# Origins whose form posts are accepted besides the request's own (e.g. the public https origin
# when a proxy in front speaks https and the server sees http); the server URL's origin is added.
CSRF_TRUSTED_ORIGINS = list(dict.fromkeys(env_list("CSRF_TRUSTED_ORIGINS") + ([_public.origin] if _public else [])))

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
    "drf_spectacular_sidecar",  # Redoc served from our own static files, never a CDN
    "django_htmx",
    "csp",
    "channels",
    "axes",
    "fleetsite",
    "accounts",
    "hosts",
    "enrollment",
    "carves",
    "activities",
    "queries",
    "packaging",
    "scripts",
    "variables",
    "software_installers",
    "vulnerabilities",
    "sso",
    "webhooks",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "mfa",
]

MIDDLEWARE = [
    "fleetsite.middleware.ClientIPMiddleware",
    "fleetsite.metrics.MetricsMiddleware",
    # Agents carry no cookies or sessions: their requests skip everything below.
    "fleetsite.middleware.AgentFastPathMiddleware",
    "fleetsite.tls.TLSMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Turns a login refused by a lock-out into a 429 page (accounts.lockout.lockout_response).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "fleetsite.urls"
WSGI_APPLICATION = "fleetsite.wsgi.application"
ASGI_APPLICATION = "fleetsite.asgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'fleetsite.sqlite3'}"


def _database(name: str, url: str) -> dict:
    """Django's settings for one database URL, with the engine options Fleetsite relies on."""
    try:
        db = dj_database_url.parse(url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600, minimum=0))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a database URL: {exc}") from exc
    if db["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the one writer; IMMEDIATE avoids upgrade deadlocks.
        db["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        db["CONN_MAX_AGE"] = 0 if db["NAME"] == ":memory:" else db["CONN_MAX_AGE"]
    elif db["ENGINE"] == "django.db.backends.mysql":
        db.setdefault("OPTIONS", {}).update({"charset": "utf8mb4", "isolation_level": "read committed"})
        db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    return db


DATABASES = {"default": _database("DATABASE_URL", DATABASE_URL)}
# Fleet's mysql_read_replica: host, software, label and activity lists read from it (fleetsite/dbrouter.py).
DATABASE_READ_REPLICA_URL = env_str("DATABASE_READ_REPLICA_URL")
if DATABASE_READ_REPLICA_URL:
    DATABASES["replica"] = _database("DATABASE_READ_REPLICA_URL", DATABASE_READ_REPLICA_URL)
    DATABASES["replica"]["TEST"] = {**DATABASES["replica"].get("TEST", {}), "MIRROR": "default"}
    DATABASE_ROUTERS = ["fleetsite.dbrouter.ReadReplicaRouter"]
    MIDDLEWARE.append("fleetsite.dbrouter.ReadReplicaMiddleware")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery broker ----------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# Every key and channel name starts with this: two installations can share one Redis.
REDIS_PREFIX = env_str("FLEETSITE_REDIS_PREFIX", "fleetsite")
if REDIS_URL:
    CACHES = redis_caches(REDIS_URL, prefix=REDIS_PREFIX)
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 times out socket reads sooner than the layer's blocking pop waits
            # (redis/redis-py#4091): reads on these connections must not time out.
            # A live query's answers arrive in bursts; the default capacity (100) drops some.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                "prefix": REDIS_PREFIX,
                "capacity": 5000,
            },
        }
    }
else:
    # One in-process store under both names (LocMemCache shares a LOCATION's store).
    _local_cache = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "fleetsite"}
    CACHES = {"default": _local_cache, "login_counters": _local_cache}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 5000}}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Without a broker the embedded default runs every task in the calling process.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
# Beat's state file lives in the data dir, never in the checkout (the working directory).
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Jobs and their cadence; `manage.py run_job NAME` runs one now. Interval schedules restart
# when beat restarts, which is harmless: every job is idempotent. `expires` ≈ 1.5x the period.
CELERY_BEAT_SCHEDULE: dict = {
    # Expired campaigns must stop being sent to hosts soon after their expiry.
    "cleanup-campaigns": {"task": "cleanup-campaigns", "schedule": 60.0, "options": {"expires": 90}},
    # Report rows beyond a query's row or age limit go within minutes (reports grow with every log).
    "enforce-report-retention": {"task": "enforce-report-retention", "schedule": 300.0, "options": {"expires": 450}},
    # Counts shown in the UI; Fleet refreshes them periodically too.
    "refresh-policy-counts": {"task": "refresh-policy-counts", "schedule": 300.0, "options": {"expires": 450}},
    # A host that starts failing should reach the webhook within a couple of minutes.
    "failing-policies-webhook": {"task": "failing-policies-webhook", "schedule": 120.0, "options": {"expires": 180}},
    # Fleet's automations: failing-policy hosts within minutes; the host status check itself waits
    # for webhook_settings.interval (a day by default) between messages.
    "automations": {"task": "automations", "schedule": 120.0, "options": {"expires": 180}},
    # Tokens live an hour; a 10-minute sweep keeps the table tidy.
    "expire-device-tokens": {"task": "expire-device-tokens", "schedule": 600.0, "options": {"expires": 900}},
    "expire-carves": {"task": "expire-carves", "schedule": 3600.0, "options": {"expires": 5400}},
    "expire-hosts": {"task": "expire-hosts", "schedule": 3600.0, "options": {"expires": 5400}},
    # Installers carry enroll secrets: delete them soon after PACKAGER_EXPIRY_SECONDS (30 min).
    "expire-packages": {"task": "expire-packages", "schedule": 300.0, "options": {"expires": 450}},
    # The TUF timestamp lives days; hourly re-signing renews it long before orbit would see it expire.
    "tuf-resign": {"task": "tuf-resign", "schedule": 3600.0, "options": {"expires": 5400}},
    # A scheduled batch run should start within a minute of its not_before.
    "start-script-batches": {"task": "start-script-batches", "schedule": 60.0, "options": {"expires": 90}},
    # Queued scripts older than FLEETSITE_SCRIPT_PENDING_EXPIRY_DAYS are days old: hourly is plenty.
    "expire-pending-scripts": {"task": "expire-pending-scripts", "schedule": 3600.0, "options": {"expires": 5400}},
    # Software changes with each host's hourly detail query; imports queue their own run too.
    "match-vulnerabilities": {"task": "match-vulnerabilities", "schedule": 3600.0, "options": {"expires": 5400}},
    # NVD and OSV publish many times a day; Fleet's default vulnerability periodicity is an hour.
    "sync-vulnerabilities": {"task": "sync-vulnerabilities", "schedule": 3600.0, "options": {"expires": 5400}},
}
# Queues: installer builds (minutes of CPU each) and beat's jobs apart, so a burst of builds cannot
# delay the jobs and the other way round. A plain `celery worker` consumes all three; a larger
# deployment runs one worker per queue (`-Q builds`, `-Q scheduled,celery`; docs/operations.md).
# Agent ingestion never goes through Celery: check-ins are answered and stored by the web servers.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = {"celery": {}, "scheduled": {}, "builds": {}}
CELERY_TASK_ROUTES = {
    "packager-build": {"queue": "builds"},
    **{entry["task"]: {"queue": "scheduled"} for entry in CELERY_BEAT_SCHEDULE.values()},
}

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# AxesBackend refuses locked-out accounts and addresses before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesBackend", "django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
SESSION_COOKIE_HTTPONLY = True
# An https public URL means people log in over https: cookies are Secure even when a proxy in front
# does not say so. Without one (`make run` on http://127.0.0.1:8080) they are Secure only on TLS
# requests (fleetsite/tls.py), so local logins work.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = bool(_public and _public.scheme == "https")
SESSION_COOKIE_SAMESITE = "Lax"
# Admin UI sessions end after this many idle seconds (each request restarts the clock).
SESSION_COOKIE_AGE = env_int("FLEETSITE_UI_SESSION_TIMEOUT", 8 * 3600, minimum=60)
SESSION_SAVE_EVERY_REQUEST = True
# Invite and password-reset links are valid this long.
FLEETSITE_INVITE_TTL = timedelta(days=env_int("FLEETSITE_INVITE_TTL_DAYS", 5, minimum=1))
PASSWORD_RESET_TIMEOUT = env_int("FLEETSITE_PASSWORD_RESET_TIMEOUT", 24 * 3600, minimum=300)

# --- Transport security and browser policy ---------------------------------------------------
# HSTS goes only on requests that came over TLS (`serve --tls`, or a trusted TLS proxy); 0 turns it off.
SECURE_HSTS_SECONDS = env_int("FLEETSITE_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("FLEETSITE_HSTS_INCLUDE_SUBDOMAINS", False)
# The header a TLS-terminating proxy sets to "https" (e.g. X-Forwarded-Proto); unset: none is
# believed. With FLEETSITE_TRUSTED_PROXIES set, only those peers may send it (fleetsite/tls.py).
_TLS_PROXY_HEADER = env_str("FLEETSITE_TLS_PROXY_HEADER") or (
    "X-Forwarded-Proto" if env_int("FLEETSITE_PROXY_COUNT", 0, minimum=0) else ""
)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _TLS_PROXY_HEADER.upper().replace("-", "_"), "https") if _TLS_PROXY_HEADER else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline scripts, styles or handlers anywhere: pages use static/*.js and CSS classes. The
# API docs page (Redoc) relaxes style-src for itself only (fleetsite/views/apidocs.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],  # includes same-origin websockets (live queries)
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Email: invites and password resets (console by default, SMTP when EMAIL_HOST is set) -----
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", not EMAIL_USE_SSL)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "fleetsite@localhost")

# --- Internationalisation and static files ----------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True

# --- Django REST framework --------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["fleetsite.api.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["fleetsite.api.aliases.FleetJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "fleetsite.api.schema.FleetAutoSchema",
    "EXCEPTION_HANDLER": "fleetsite.api.errors.fleet_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        # fleet-protocol §4.1: login is limited to 10 per minute.
        "login_ip": env_str("FLEETSITE_LOGIN_RATE_IP", "10/min"),
        "login_email": env_str("FLEETSITE_LOGIN_RATE_EMAIL", "10/min"),
    },
}
# The release number has one home, pyproject.toml; the build (git commit) is added by fleetsite/version.py.
with (BASE_DIR / "pyproject.toml").open("rb") as _pyproject:
    FLEETSITE_VERSION: str = tomllib.load(_pyproject)["project"]["version"]
SPECTACULAR_SETTINGS = {
    "TITLE": "Fleetsite API",
    "DESCRIPTION": "Fleet-compatible REST API for people and scripts.",
    "VERSION": FLEETSITE_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    # Fleet 4.8's `fleets`/`reports` routes are the `teams`/`queries` views again: documented once.
    "PREPROCESSING_HOOKS": ["fleetsite.api.schema.drop_route_aliases"],
    # One name for Fleet's role choices, whichever field (role, global_role) carries them.
    "ENUM_NAME_OVERRIDES": {"RoleEnum": "accounts.choices.Role"},
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Fleet server options (fleet-protocol §1.9), with Fleet's defaults -----------------------
FLEETSITE_DETAIL_UPDATE_INTERVAL = env_int("FLEETSITE_OSQUERY_DETAIL_UPDATE_INTERVAL", 3600, minimum=60)
FLEETSITE_LABEL_UPDATE_INTERVAL = env_int("FLEETSITE_OSQUERY_LABEL_UPDATE_INTERVAL", 3600, minimum=60)
FLEETSITE_POLICY_UPDATE_INTERVAL = env_int("FLEETSITE_OSQUERY_POLICY_UPDATE_INTERVAL", 3600, minimum=60)
FLEETSITE_MAX_JITTER_PERCENT = env_int("FLEETSITE_OSQUERY_MAX_JITTER_PERCENT", 10, minimum=0)
FLEETSITE_NODE_KEY_SIZE = env_int("FLEETSITE_OSQUERY_NODE_KEY_SIZE", 24, minimum=16)
FLEETSITE_HOST_IDENTIFIER = env_choice(
    "FLEETSITE_OSQUERY_HOST_IDENTIFIER", "provided", ("provided", "instance", "uuid", "hostname")
)
FLEETSITE_ENROLL_COOLDOWN = env_int("FLEETSITE_OSQUERY_ENROLL_COOLDOWN", 0, minimum=0)
FLEETSITE_SESSION_DURATION = timedelta(seconds=env_int("FLEETSITE_SESSION_DURATION", 5 * 24 * 3600, minimum=60))
FLEETSITE_LOGIN_FAILURE_DELAY = env_float("FLEETSITE_LOGIN_FAILURE_DELAY", 1.0, minimum=0.0)
# Second factor (mfa/): a password login of a user with an authenticator waits this long for the
# code, and ends after this many wrong codes; authenticator apps show the issuer name.
FLEETSITE_MFA_CHALLENGE_TTL = timedelta(seconds=env_int("FLEETSITE_MFA_CHALLENGE_TTL", 300, minimum=30))
FLEETSITE_MFA_MAX_ATTEMPTS = env_int("FLEETSITE_MFA_MAX_ATTEMPTS", 5, minimum=1)
OTP_TOTP_ISSUER = env_str("FLEETSITE_MFA_ISSUER", "Fleetsite")
# Login lock-outs (django-axes, accounts/lockout.py): after this many failed logins or password
# reset requests for one account or from one client address, both are refused for the lock-out
# time, which doubles with each lock-out in a day up to the maximum. Counters live in the cache.
AXES_ENABLED = env_bool("FLEETSITE_LOGIN_LOCKOUT", True)
AXES_FAILURE_LIMIT = env_int("FLEETSITE_LOGIN_FAILURE_LIMIT", 10, minimum=1)
FLEETSITE_LOGIN_LOCKOUT_SECONDS = env_int("FLEETSITE_LOGIN_LOCKOUT_SECONDS", 15 * 60, minimum=1)
FLEETSITE_LOGIN_LOCKOUT_MAX_SECONDS = env_int("FLEETSITE_LOGIN_LOCKOUT_MAX_SECONDS", 24 * 3600, minimum=1)
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_CACHE = "login_counters"  # fleetsite/lib/cachesettings.py: a miss, not an error, when Redis is down
# Without REDIS_URL the server is one process (serve --workers needs Redis), so a process-local
# cache counts every attempt; axes warns about it all the same.
SILENCED_SYSTEM_CHECKS = [] if REDIS_URL else ["axes.W001"]
# `check --deploy`: no http->https redirect, because agents and load-balancer health checks must
# not be redirected (a redirected POST loses its body); serve https only, or redirect at the proxy.
# HSTS for subdomains and preloading are the operator's call (FLEETSITE_HSTS_INCLUDE_SUBDOMAINS).
SILENCED_SYSTEM_CHECKS += ["security.W008", "security.W005", "security.W021"]
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each alone: the account, or the address
AXES_COOLOFF_TIME = "accounts.lockout.cool_off"
AXES_USERNAME_CALLABLE = "accounts.lockout.login_name"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# Attempts refused during a lock-out do not extend it (else anyone could keep an account locked).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True  # successful logins are in the activity feed already
AXES_ENABLE_ADMIN = False  # its admin pages list database attempts; ours are in the cache
FLEETSITE_DEVICE_TOKEN_TTL = timedelta(seconds=env_int("FLEETSITE_DEVICE_TOKEN_TTL", 3600, minimum=60))
# Proxies (addresses or CIDR ranges) whose X-Forwarded-For and friends are believed. Unset: none,
# the client address is the socket peer (Fleet believes anyone, which lets clients pick their IP).
FLEETSITE_TRUSTED_PROXIES = env_list("FLEETSITE_TRUSTED_PROXIES")
# Opt-in alternative for deployments where every request passes the same chain of proxies but
# their addresses are not fixed: the number of proxies in front. The client is then the address
# that many hops from the right of X-Forwarded-For (each proxy appends its peer), and
# X-Forwarded-Proto is believed unless FLEETSITE_TLS_PROXY_HEADER names another header.
FLEETSITE_PROXY_COUNT = env_int("FLEETSITE_PROXY_COUNT", 0, minimum=0)
try:
    proxy_networks(tuple(FLEETSITE_TRUSTED_PROXIES))
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from exc
# How often batched host seen times are written, in seconds.
FLEETSITE_SEEN_FLUSH_INTERVAL = env_float("FLEETSITE_SEEN_FLUSH_INTERVAL", 2.0, minimum=0.0)
# Seconds the host counts (host_summary, the dashboard) are shared before they are counted again.
FLEETSITE_HOST_COUNTS_SECONDS = env_float("FLEETSITE_HOST_COUNTS_SECONDS", 10.0, minimum=0.0)
# Longest time an agent's host row is answered from memory between changes (hosts/checkin_cache.py);
# on by default only with REDIS_URL, through which other processes say what they changed.
FLEETSITE_CHECKIN_CACHE_SECONDS = env_float("FLEETSITE_CHECKIN_CACHE_SECONDS", 300.0 if REDIS_URL else 0.0, minimum=0.0)
# How often result-log rows are written to query reports in batches (0: within the request).
FLEETSITE_REPORT_FLUSH_INTERVAL = env_float("FLEETSITE_REPORT_FLUSH_INTERVAL", 2.0, minimum=0.0)
# Largest agent request body accepted, before and after gzip decompression.
FLEETSITE_AGENT_MAX_BODY = env_int("FLEETSITE_AGENT_MAX_BODY", 16 * 1024 * 1024, minimum=1024)
# Threads per server process running Django requests (each may hold a database connection).
FLEETSITE_WSGI_THREADS = env_int("FLEETSITE_WSGI_THREADS", 8, minimum=1)
# Slow and greedy clients (fleetsite/guarded_http.py). Headers must arrive within HEADER_TIMEOUT
# seconds; a body gets BODY_TIMEOUT seconds plus one per BODY_MIN_RATE bytes received (so slow
# links posting 16 MB of logs are fine) and may not stall longer than BODY_STALL_TIMEOUT.
FLEETSITE_HEADER_TIMEOUT = env_float("FLEETSITE_HEADER_TIMEOUT", 10.0, minimum=0.1)
FLEETSITE_BODY_TIMEOUT = env_float("FLEETSITE_BODY_TIMEOUT", 10.0, minimum=0.1)
FLEETSITE_BODY_MIN_RATE = env_int("FLEETSITE_BODY_MIN_RATE", 1024, minimum=1)
FLEETSITE_BODY_STALL_TIMEOUT = env_float("FLEETSITE_BODY_STALL_TIMEOUT", 10.0, minimum=0.1)
# Open connections per peer address and server process (0: no cap); trusted proxies are exempt.
# Many agents behind one NAT address share it: raise it for such sites.
FLEETSITE_MAX_CONNECTIONS_PER_ADDRESS = env_int("FLEETSITE_MAX_CONNECTIONS_PER_ADDRESS", 1000, minimum=0)
FLEETSITE_METRICS_USERNAME = env_str("FLEETSITE_METRICS_USERNAME")
FLEETSITE_METRICS_PASSWORD = env_str("FLEETSITE_METRICS_PASSWORD")

# --- Queries ---------------------------------------------------------------------------------
# Completed live-query campaigns (and their stored results) are deleted after this many days.
FLEETSITE_CAMPAIGN_RETENTION_DAYS = env_int("FLEETSITE_CAMPAIGN_RETENTION_DAYS", 7, minimum=1)
# `POST /queries/{id}/run` waits this long for answers (Fleet's FLEET_LIVE_QUERY_REST_PERIOD).
FLEETSITE_LIVE_QUERY_REST_PERIOD = env_int("FLEETSITE_LIVE_QUERY_REST_PERIOD", 90, minimum=1)
# Hosts that start failing a policy with the automation on are posted here.
FLEETSITE_FAILING_POLICIES_WEBHOOK_URL = env_str("FLEETSITE_FAILING_POLICIES_WEBHOOK_URL")
# Automations (webhook_settings, Jira, Zendesk): each request's timeout, how often a delivery is
# tried, the first retry's delay (doubled after each failure), and how long finished rows are kept.
FLEETSITE_WEBHOOK_TIMEOUT = env_float("FLEETSITE_WEBHOOK_TIMEOUT", 30.0, minimum=0.1)
FLEETSITE_WEBHOOK_MAX_ATTEMPTS = env_int("FLEETSITE_WEBHOOK_MAX_ATTEMPTS", 5, minimum=1)
FLEETSITE_WEBHOOK_RETRY_BACKOFF = env_float("FLEETSITE_WEBHOOK_RETRY_BACKOFF", 30.0, minimum=0.0)
FLEETSITE_WEBHOOK_DELIVERY_RETENTION_DAYS = env_int("FLEETSITE_WEBHOOK_DELIVERY_RETENTION_DAYS", 30, minimum=1)

# Carves are kept this many days (blocks are large).
FLEETSITE_CARVE_RETENTION_DAYS = env_int("FLEETSITE_CARVE_RETENTION_DAYS", 7, minimum=1)
# Carve blocks and assembled carves live in S3 when FLEETSITE_S3_CARVES_BUCKET is set (Fleet's
# s3.carves_bucket), else under FLEETSITE_CARVES_DIR (default: <data dir>/carves, read when used).
# The same companions as the installers' bucket (fleetsite.lib.filestore chooses for both).
FLEETSITE_S3_CARVES_BUCKET = env_str("FLEETSITE_S3_CARVES_BUCKET")
FLEETSITE_S3_CARVES_PREFIX = env_str("FLEETSITE_S3_CARVES_PREFIX")
FLEETSITE_S3_CARVES_REGION = env_str("FLEETSITE_S3_CARVES_REGION")
FLEETSITE_S3_CARVES_ENDPOINT_URL = env_str("FLEETSITE_S3_CARVES_ENDPOINT_URL")
FLEETSITE_S3_CARVES_ACCESS_KEY_ID = env_str("FLEETSITE_S3_CARVES_ACCESS_KEY_ID")
FLEETSITE_S3_CARVES_SECRET_ACCESS_KEY = env_str("FLEETSITE_S3_CARVES_SECRET_ACCESS_KEY")
FLEETSITE_CARVES_DIR = env_str("FLEETSITE_CARVES_DIR")
# Fleet's host expiry: hosts unseen this many days are deleted (0 = never).
FLEETSITE_HOST_EXPIRY_DAYS = env_int("FLEETSITE_HOST_EXPIRY_DAYS", 0, minimum=0)

# --- Log destinations (fleet-protocol §1.3) ---------------------------------------------------
# Where osquery result and status logs go: comma lists of filesystem, stdout, webhook.
FLEETSITE_RESULT_LOG_DESTINATIONS = env_list("FLEETSITE_RESULT_LOG_DESTINATIONS", ["filesystem"])
FLEETSITE_STATUS_LOG_DESTINATIONS = env_list("FLEETSITE_STATUS_LOG_DESTINATIONS", ["filesystem"])
for _name, _kinds in (
    ("FLEETSITE_RESULT_LOG_DESTINATIONS", FLEETSITE_RESULT_LOG_DESTINATIONS),
    ("FLEETSITE_STATUS_LOG_DESTINATIONS", FLEETSITE_STATUS_LOG_DESTINATIONS),
):
    if not _kinds or set(_kinds) - {"filesystem", "stdout", "webhook"}:
        raise ImproperlyConfigured(f"{_name} must list filesystem, stdout or webhook, got {_kinds!r}")
# The filesystem destination's directory (empty: <data dir>/logs); a file is rotated past this
# size (0: never) and this many rotated files are kept.
FLEETSITE_LOG_DIR = env_str("FLEETSITE_LOG_DIR")
FLEETSITE_LOG_ROTATE_MB = env_int("FLEETSITE_LOG_ROTATE_MB", 500, minimum=0)
FLEETSITE_LOG_KEEP = env_int("FLEETSITE_LOG_KEEP", 5, minimum=0)
# The webhook destination: entries are POSTed in batches; while the receiver is down at most
# FLEETSITE_LOG_WEBHOOK_BUFFER entries wait in memory (the oldest are dropped first).
FLEETSITE_LOG_WEBHOOK_URL = env_str("FLEETSITE_LOG_WEBHOOK_URL")
FLEETSITE_LOG_WEBHOOK_BATCH = env_int("FLEETSITE_LOG_WEBHOOK_BATCH", 500, minimum=1)
FLEETSITE_LOG_WEBHOOK_BUFFER = env_int("FLEETSITE_LOG_WEBHOOK_BUFFER", 50_000, minimum=1)
if "webhook" in FLEETSITE_RESULT_LOG_DESTINATIONS + FLEETSITE_STATUS_LOG_DESTINATIONS and not (
    FLEETSITE_LOG_WEBHOOK_URL.startswith(("http://", "https://"))
):
    raise ImproperlyConfigured("FLEETSITE_LOG_WEBHOOK_URL must be an http(s) URL when a webhook destination is set")

# --- Packaging: fleetd installers, the TUF repository, the packager service ------------------
# The TUF repository (metadata, targets, keys) that `manage.py updates` manages and /tuf/ serves.
FLEETSITE_TUF_DIR = Path(env_str("FLEETSITE_TUF_DIR") or DATA_DIR / "tuf")
FLEETSITE_TUF_URL_PATH = env_str("FLEETSITE_TUF_URL_PATH", "/tuf/")
# Passphrase that encrypts the TUF signing keys at rest (unset: keys are stored 0600 unencrypted).
FLEETSITE_TUF_KEY_PASSPHRASE = env_str("FLEETSITE_TUF_KEY_PASSPHRASE")
# Built installers; meant for an encrypted volume. Files are 0600 and securely deleted on expiry.
PACKAGER_DIR = Path(env_str("PACKAGER_DIR") or DATA_DIR / "packages")
PACKAGER_TARGET_CACHE = Path(env_str("PACKAGER_TARGET_CACHE") or DATA_DIR / "target-cache")
PACKAGER_EXPIRY_SECONDS = env_int("PACKAGER_EXPIRY_SECONDS", 30 * 60, minimum=60)
# "all" mounts everything; "packager" mounts only the packager endpoints (its own service).
FLEETSITE_MODE = env_choice("FLEETSITE_MODE", "all", ("all", "packager"))
# The timestamp role's lifetime; the `tuf-resign` job renews it when half of it is gone.
FLEETSITE_TUF_TIMESTAMP_DAYS = env_int("FLEETSITE_TUF_TIMESTAMP_DAYS", 7, minimum=1)
# The public URL of this server's TUF repository (the default --update-url of new packages).
# Empty: FLEETSITE_SERVER_URL + FLEETSITE_TUF_URL_PATH, else the package's fleet URL + that path.
FLEETSITE_UPDATE_URL = env_str("FLEETSITE_UPDATE_URL")
# Root metadata (JSON; PACKAGER_UPDATE_ROOTS_FILE for a file) trusted for builds without
# --update-roots; empty: this server's own TUF root. For a packager that uses another repository.
PACKAGER_UPDATE_ROOTS = env_str("PACKAGER_UPDATE_ROOTS")
# Authenticode certificate and key (PEM files) that sign built msi packages; unset: unsigned.
PACKAGER_MSI_SIGN_CERT = env_str("PACKAGER_MSI_SIGN_CERT")
PACKAGER_MSI_SIGN_KEY = env_str("PACKAGER_MSI_SIGN_KEY")
# Seconds to wait for the update server per request while fetching targets.
PACKAGER_FETCH_TIMEOUT = env_int("PACKAGER_FETCH_TIMEOUT", 30, minimum=1)
# Without a Celery broker, builds run on this many in-process threads (0: inside the request).
PACKAGER_THREADS = env_int("PACKAGER_THREADS", 2, minimum=0)
# Rate limits: `create` per client IP, `status` and `download` per package id.
PACKAGER_RATE_CREATE = env_str("PACKAGER_RATE_CREATE", "30/hour")
PACKAGER_RATE_STATUS = env_str("PACKAGER_RATE_STATUS", "120/min")
PACKAGER_RATE_DOWNLOAD = env_str("PACKAGER_RATE_DOWNLOAD", "10/min")

# The REST API is small JSON; agents get their own, larger cap (FLEETSITE_AGENT_MAX_BODY).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("FLEETSITE_MAX_BODY", 2 * 1024 * 1024, minimum=1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # axes announces its version at every start; its lock-outs are in the activity feed.
    "loggers": {"django.request": {"level": "ERROR"}, "axes": {"level": "WARNING"}},
}

# --- Scripts ---------------------------------------------------------------------------------
# `POST /scripts/run/sync` waits this long for the host's answer (Fleet: 5 minutes), then 408.
FLEETSITE_SCRIPT_SYNC_WAIT = env_float("FLEETSITE_SCRIPT_SYNC_WAIT", 300.0, minimum=0.0)
# First pause between checks for that answer; each later pause is this much longer, up to 5 s.
FLEETSITE_SCRIPT_SYNC_POLL = env_float("FLEETSITE_SCRIPT_SYNC_POLL", 1.0, minimum=0.01)
# Scripts still queued this many days after they were asked for are canceled (0: never; Fleet keeps
# them until the host checks in again). A synchronous run past its wait reads as timed out either way.
FLEETSITE_SCRIPT_PENDING_EXPIRY_DAYS = env_int("FLEETSITE_SCRIPT_PENDING_EXPIRY_DAYS", 0, minimum=0)

# --- Software installers ------------------------------------------------------------------------
# Uploaded packages live in S3 when FLEETSITE_S3_SOFTWARE_INSTALLERS_BUCKET is set (Fleet's
# s3.software_installers_bucket), else under FLEETSITE_SOFTWARE_INSTALLERS_DIR on local disk.
# FLEETSITE_S3_SOFTWARE_INSTALLERS_PREFIX, _REGION, _ENDPOINT_URL (MinIO, moto), _ACCESS_KEY_ID and
# _SECRET_ACCESS_KEY (both with `_FILE`; unset: boto3's own credential chain) go with the bucket.
FLEETSITE_S3_SOFTWARE_INSTALLERS_BUCKET = env_str("FLEETSITE_S3_SOFTWARE_INSTALLERS_BUCKET")
FLEETSITE_S3_SOFTWARE_INSTALLERS_PREFIX = env_str("FLEETSITE_S3_SOFTWARE_INSTALLERS_PREFIX")
FLEETSITE_S3_SOFTWARE_INSTALLERS_REGION = env_str("FLEETSITE_S3_SOFTWARE_INSTALLERS_REGION")
FLEETSITE_S3_SOFTWARE_INSTALLERS_ENDPOINT_URL = env_str("FLEETSITE_S3_SOFTWARE_INSTALLERS_ENDPOINT_URL")
FLEETSITE_S3_SOFTWARE_INSTALLERS_ACCESS_KEY_ID = env_str("FLEETSITE_S3_SOFTWARE_INSTALLERS_ACCESS_KEY_ID")
FLEETSITE_S3_SOFTWARE_INSTALLERS_SECRET_ACCESS_KEY = env_str("FLEETSITE_S3_SOFTWARE_INSTALLERS_SECRET_ACCESS_KEY")
FLEETSITE_SOFTWARE_INSTALLERS_DIR = Path(
    env_str("FLEETSITE_SOFTWARE_INSTALLERS_DIR") or DATA_DIR / "software_installers"
)
# Fleet refuses installers over 3 GiB; a smaller cap suits a small disk.
FLEETSITE_SOFTWARE_INSTALLER_MAX_BYTES = env_int("FLEETSITE_SOFTWARE_INSTALLER_MAX_BYTES", 3 * 1024**3, minimum=1)

# --- Vulnerabilities --------------------------------------------------------------------------
# `manage.py vulnerabilities sync` and the hourly beat job download these; off for offline servers
# (then `manage.py vulnerabilities import PATH` loads files copied in by hand).
FLEETSITE_VULN_SYNC = env_bool("FLEETSITE_VULN_SYNC", False)
# Comma-separated URLs per feed; point them at a mirror where the server has no internet access.
FLEETSITE_VULN_NVD_URLS = env_list("FLEETSITE_VULN_NVD_URLS")
FLEETSITE_VULN_OSV_URLS = env_list(
    "FLEETSITE_VULN_OSV_URLS",
    [
        "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip",
        "https://osv-vulnerabilities.storage.googleapis.com/npm/all.zip",
        "https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip",
        "https://osv-vulnerabilities.storage.googleapis.com/Ubuntu/all.zip",
    ],
)
FLEETSITE_VULN_EPSS_URLS = env_list("FLEETSITE_VULN_EPSS_URLS", ["https://epss.cyentia.com/epss_scores-current.csv.gz"])
FLEETSITE_VULN_KEV_URLS = env_list(
    "FLEETSITE_VULN_KEV_URLS",
    ["https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"],
)
# A feed file larger than this is refused before it is read (a runaway download must not exhaust memory).
FLEETSITE_VULN_MAX_FEED_BYTES = env_int("FLEETSITE_VULN_MAX_FEED_BYTES", 1024 * 1024 * 1024, minimum=1024)
