"""RESP2, the Redis wire protocol: encoding commands and parsing replies incrementally.

The codec itself is a hot path with two twins, ``papyra._speedups.resp_py`` (the reference,
where the format is described) and the compiled ``resp_c``; :mod:`papyra._accel` picks one at
import and this module re-exports it, with the values and errors both twins share.
"""

from __future__ import annotations

from papyra._accel import resp as _resp
from papyra._redis.errors import ProtocolError, ReplyError

__all__ = (
    "Arg",
    "ProtocolError",
    "ReplyError",
    "ReplyParser",
    "decode_frames",
    "encode_command",
    "encode_commands",
    "encode_frames",
)

Arg = bytes | str | int | float

ReplyParser = _resp.ReplyParser
encode_command = _resp.encode_command
encode_commands = _resp.encode_commands
encode_frames = _resp.encode_frames
decode_frames = _resp.decode_frames
