"""Retention limits for persisted records.

They apply on reads and in ``compact()``, never on writes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ("RetentionPolicy",)


@dataclass(frozen=True)
class RetentionPolicy:
    """Which records a backend keeps; ``None`` means no limit of that kind.

    * ``max_records``: keep only the newest N records.
    * ``max_age_seconds``: keep records whose ``timestamp`` is at most this old (epoch seconds).
    * ``max_total_bytes``: keep the newest records whose sizes add up to at most this budget.

    Zero is allowed and keeps nothing. The file and Redis backends honour the policy;
    ``InMemoryPersistence`` ignores it.

    :raises TypeError: a limit that is not a number or ``None`` (a ``bool`` included).
    :raises ValueError: a negative or NaN limit.
    """

    max_records: int | None = None
    max_age_seconds: float | None = None
    max_total_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_records", "max_age_seconds", "max_total_bytes"):
            value = getattr(self, name)
            if value is None:
                continue
            # bool is an int subclass, but ``max_records=True`` is surely a mistake.
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number or None, got {value!r}")
            if math.isnan(value) or value < 0:
                raise ValueError(f"{name} must be >= 0 or None, got {value!r}")
