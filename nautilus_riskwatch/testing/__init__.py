"""Helpers for testing code that uses the watch, not part of the watch itself.

``LocalRedis`` starts a throwaway ``redis-server`` on loopback, so that a test of your own
firm setup (or the firm example) runs against a real Redis with nothing installed by hand.
Nothing in the watch imports this package: it is safe to leave out of a production image.
"""

from nautilus_riskwatch.testing.redis_server import (
    LocalRedis,
    RedisServerNotFound,
    free_port,
    redis_server_binary,
)

__all__ = ["LocalRedis", "RedisServerNotFound", "free_port", "redis_server_binary"]
