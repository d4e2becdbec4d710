"""Papyra's own Redis client (RESP2 over anyio), shared by the Redis persistence backend and the
cluster transport.

``resp``: the wire protocol (command encoding, an incremental reply parser: the hot path
``papyra._speedups.resp_py`` or its compiled twin ``resp_c``, as :mod:`papyra._accel` chose);
``errors``: the reply and protocol error values both twins share; ``client``: the connection
pool per event loop, bounded waits, the errors, and the redis-py-shaped calls.
"""
