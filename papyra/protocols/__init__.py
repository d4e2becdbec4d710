"""Structural types for the pluggable helpers (the logger and the serializer)."""

from __future__ import annotations

from papyra.protocols.logging import LoggerProtocol
from papyra.protocols.serializer import SerializerProtocol

__all__ = ("LoggerProtocol", "SerializerProtocol")
