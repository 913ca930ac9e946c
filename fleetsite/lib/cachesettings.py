"""The CACHES setting for a Redis URL, in one place for settings.py and the Redis fault tests."""

from __future__ import annotations

from typing import Any

from redis.backoff import NoBackoff
from redis.retry import Retry


def redis_caches(url: str, prefix: str = "fleetsite") -> dict[str, Any]:
    """`default`, and `login_counters`: the same Redis, where a failed call reads as a miss.

    Redis accelerates, it is not required (fleetsite.lib.sharedcache): an unreachable server
    must fail a call within about a second, not after redis-py's ten retries. Login lock-out
    counters may be lost in an outage: a few more attempts get through, rather than every
    login answering 500.
    """
    options = {
        "CLIENT_CLASS": "django_redis.client.DefaultClient",
        "SOCKET_CONNECT_TIMEOUT": 1,
        "SOCKET_TIMEOUT": 2,
        "CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), 1)},
    }
    default = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url, "KEY_PREFIX": prefix, "OPTIONS": options}
    return {
        "default": default,
        "login_counters": {**default, "OPTIONS": {**options, "IGNORE_EXCEPTIONS": True}},
    }
