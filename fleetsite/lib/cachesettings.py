"""The CACHES setting for a Redis URL, in one place for settings.py and the Redis fault tests."""

from __future__ import annotations

from typing import Any

from django_redis.cache import RedisCache
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
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
        "login_counters": {
            **default,
            "BACKEND": "fleetsite.lib.cachesettings.MissingIsFineCache",
            "OPTIONS": {**options, "IGNORE_EXCEPTIONS": True},
        },
    }


class MissingIsFineCache(RedisCache):
    """django-redis with IGNORE_EXCEPTIONS, answering as a cache that just lost its keys.

    With Redis down, django-redis's ignored calls return None, and django-axes, counting a failed
    login, compares those Nones (a TypeError); its `touch` is not covered by the flag at all
    (redis-py's ConnectionError escapes django-redis 7.0). Either way every failed login answered
    500 during an outage. Here a lost counter starts again at one attempt.
    """

    def add(self, *args: Any, **kwargs: Any) -> bool:
        added = super().add(*args, **kwargs)
        return True if added is None else added

    def incr(self, key: Any, delta: int = 1, *args: Any, **kwargs: Any) -> int:
        value = super().incr(key, delta, *args, **kwargs)
        return delta if value is None else value

    def touch(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return super().touch(*args, **kwargs)
        except RedisError:
            return False
