"""``apply_retention``: the one retention algorithm shared by the backends that honour a policy."""

from __future__ import annotations

import time
from typing import Any, TypeGuard

from papyra.persistence.backends.retention import RetentionPolicy

__all__ = ("apply_retention",)


def apply_retention(records: list[dict[str, Any]], policy: RetentionPolicy) -> list[dict[str, Any]]:
    """Return the records of ``records`` (raw dicts, oldest first) that ``policy`` keeps.

    The limits apply in a fixed order, each to the survivors of the previous one:

    1. ``max_age_seconds``: keep records whose ``"timestamp"`` is a number
       ``>= time.time() - max_age``; a record with no usable timestamp is dropped.
    2. ``max_records``: keep the newest ``max_records``.
    3. ``max_total_bytes``: walk newest to oldest adding ``len(repr(record).encode())`` and stop at
       the first record that would overflow the budget. ``repr`` rather than the JSON size keeps the
       measure cheap and independent of the encoder.

    Order is preserved. The input list is not modified; a new list is always returned.
    """
    kept = list(records)
    if policy.max_age_seconds is not None:
        cutoff = time.time() - policy.max_age_seconds
        kept = [r for r in kept if _is_number(ts := r.get("timestamp")) and ts >= cutoff]
    if policy.max_records is not None:
        # Not ``kept[-n:]``: with n == 0 that slice is the whole list.
        excess = len(kept) - policy.max_records
        if excess > 0:
            del kept[:excess]
    if policy.max_total_bytes is not None:
        budget = policy.max_total_bytes
        start = len(kept)
        while start > 0:
            size = len(repr(kept[start - 1]).encode("utf-8"))
            if size > budget:
                break
            budget -= size
            start -= 1
        del kept[:start]
    return kept


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
