"""The Redis cache backend, reusing one client per connection pool.

Django's ``RedisCache`` builds a new ``redis.Redis`` client object for every cache call; building one
copies a table of a few hundred response callbacks, which on the terminal API's hot path (a nonce
check and the rate limit: three cache calls per request) cost more CPU than the Redis round trips.
A ``redis.Redis`` client is safe to share between threads (each command takes a connection from
the pool), so one client per pool is kept and reused. Everything else is Django's backend.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    """Django's client, with ``get_client`` returning the same ``redis.Redis`` object per pool."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            # A race only builds a second, equivalent client; the last one stored is kept.
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    """``django.core.cache.backends.redis.RedisCache`` with :class:`ReusingRedisCacheClient`."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
