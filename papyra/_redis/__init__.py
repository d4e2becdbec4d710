"""Papyra's own Redis client (RESP2 over anyio), shared by the Redis persistence backend.

``resp``: the wire protocol (command encoding, an incremental reply parser); ``client``: the
connection pool per event loop, bounded waits, the errors, and the redis-py-shaped calls.
"""
