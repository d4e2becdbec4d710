"""Short import path for the Redis Streams backend: the names of
:mod:`papyra.persistence.backends.redis`, re-exported."""

from papyra.persistence.backends.redis import (
    RedisConsumerGroupConfig,
    RedisError,
    RedisResponseError,
    RedisStreamEntry,
    RedisStreamsConfig,
    RedisStreamsPersistence,
    RedisUnavailableError,
    StreamKind,
)

__all__ = (
    "RedisConsumerGroupConfig",
    "RedisError",
    "RedisResponseError",
    "RedisStreamEntry",
    "RedisStreamsConfig",
    "RedisStreamsPersistence",
    "RedisUnavailableError",
    "StreamKind",
)
