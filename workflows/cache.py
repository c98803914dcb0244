"""Django's Redis cache, except that Redis being down is a cache miss, never an error.

Redis is optional for the pages (issue 11): nothing Safeshare shows may fail because the
cache is unreachable, and viewflow's shell reads the cache on every page (the avatar URL).
Reads answer the default, writes are dropped, ``add`` answers False (nothing was added,
so a lock taken through it is simply not taken), each with a warning in the log.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def _forgiving(fallback: Callable[..., Any]) -> Callable[[Callable[..., Any]], Any]:
    def decorate(method: Callable[..., Any]) -> Any:
        @functools.wraps(method)
        def wrapper(self: RedisCache, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except (RedisError, OSError) as error:
                logger.warning(
                    "Cache unavailable, carrying on without it (%s): %s", method.__name__, error
                )
                return fallback(*args, **kwargs)

        return wrapper

    return decorate


def _default(key: Any, default: Any = None, *args: Any, **kwargs: Any) -> Any:
    return default


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def _false(*args: Any, **kwargs: Any) -> bool:
    return False


def _empty(*args: Any, **kwargs: Any) -> Any:
    return {}


def _all_failed(data: Any, *args: Any, **kwargs: Any) -> list[Any]:
    return list(data)


class ForgivingRedisCache(RedisCache):
    get = _forgiving(_default)(RedisCache.get)
    get_many = _forgiving(_empty)(RedisCache.get_many)
    has_key = _forgiving(_false)(RedisCache.has_key)
    add = _forgiving(_false)(RedisCache.add)
    set = _forgiving(_nothing)(RedisCache.set)
    set_many = _forgiving(_all_failed)(RedisCache.set_many)
    touch = _forgiving(_false)(RedisCache.touch)
    delete = _forgiving(_false)(RedisCache.delete)
    delete_many = _forgiving(_nothing)(RedisCache.delete_many)
    clear = _forgiving(_false)(RedisCache.clear)
