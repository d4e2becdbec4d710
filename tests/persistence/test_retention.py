"""``apply_retention``: the order of the three limits and the exact size measure."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from papyra.persistence._retention import apply_retention
from papyra.persistence.backends.retention import RetentionPolicy


def recs(*timestamps: Any) -> list[dict[str, Any]]:
    return [{"kind": "event", "n": i, "timestamp": ts} for i, ts in enumerate(timestamps)]


def test_empty_policy_keeps_everything_in_a_new_list() -> None:
    records = recs(1, 2, 3)
    kept = apply_retention(records, RetentionPolicy())
    assert kept == records
    kept.append({})
    assert len(records) == 3


def test_max_records_keeps_the_newest() -> None:
    records = recs(1, 2, 3, 4, 5)
    assert [r["n"] for r in apply_retention(records, RetentionPolicy(max_records=2))] == [3, 4]
    assert apply_retention(records, RetentionPolicy(max_records=10)) == records


def test_max_records_zero_keeps_nothing() -> None:
    assert apply_retention(recs(1, 2), RetentionPolicy(max_records=0)) == []


def test_max_age_drops_old_and_timestampless_records() -> None:
    now = time.time()
    records = [
        {"n": 0, "timestamp": now - 1000},
        {"n": 1},
        {"n": 2, "timestamp": None},
        {"n": 3, "timestamp": "yesterday"},
        {"n": 4, "timestamp": now - 1},
        {"n": 5, "timestamp": now + 60},
    ]
    kept = apply_retention(records, RetentionPolicy(max_age_seconds=100))
    assert [r["n"] for r in kept] == [4, 5]


def test_max_total_bytes_uses_python_repr_and_stops_at_first_overflow() -> None:
    small = {"timestamp": 3, "v": "a"}
    big = {"timestamp": 2, "v": "x" * 100}
    tiny = {"timestamp": 1}
    size = lambda r: len(repr(r).encode("utf-8"))  # noqa: E731
    policy = RetentionPolicy(max_total_bytes=size(small) + size(tiny))
    # Walking back from the newest, ``big`` overflows; ``tiny`` would fit but is older, so it goes.
    assert apply_retention([tiny, big, small], policy) == [small]
    exact = RetentionPolicy(max_total_bytes=size(tiny) + size(small))
    assert apply_retention([tiny, small], exact) == [tiny, small]
    assert apply_retention([tiny], RetentionPolicy(max_total_bytes=0)) == []


def test_repr_size_counts_utf8_bytes_not_characters() -> None:
    record = {"v": "é"}
    chars = len(repr(record))
    assert apply_retention([record], RetentionPolicy(max_total_bytes=chars)) == []
    assert apply_retention([record], RetentionPolicy(max_total_bytes=chars + 1)) == [record]


def test_limits_apply_in_order_age_then_count_then_bytes() -> None:
    now = time.time()
    records = [{"n": i, "timestamp": now - (10 - i) * 10} for i in range(10)]
    # Age keeps n=5..9 (<= 50 s old), count keeps n=7..9, bytes keep as many of those as fit.
    one = len(repr(records[9]).encode())
    policy = RetentionPolicy(max_age_seconds=55, max_records=3, max_total_bytes=2 * one)
    assert [r["n"] for r in apply_retention(records, policy)] == [8, 9]


@pytest.mark.parametrize(
    "kwargs",
    [{"max_records": -1}, {"max_age_seconds": -0.5}, {"max_total_bytes": -10},
     {"max_age_seconds": float("nan")}],
)
def test_negative_limits_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RetentionPolicy(**kwargs)


def test_non_numeric_limits_are_rejected() -> None:
    with pytest.raises(TypeError):
        RetentionPolicy(max_records="5")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RetentionPolicy(max_records=True)


def test_policy_is_frozen_with_none_defaults() -> None:
    policy = RetentionPolicy()
    limits = (policy.max_records, policy.max_age_seconds, policy.max_total_bytes)
    assert limits == (None, None, None)
    with pytest.raises(AttributeError):
        policy.max_records = 3  # type: ignore[misc]


@given(
    st.lists(st.integers(0, 10**6), max_size=30),
    st.none() | st.integers(0, 40),
    st.none() | st.integers(0, 2000),
)
def test_result_is_always_a_newest_suffix_within_the_limits(
    stamps: list[int], max_records: int | None, max_total_bytes: int | None
) -> None:
    records = recs(*stamps)
    policy = RetentionPolicy(max_records=max_records, max_total_bytes=max_total_bytes)
    kept = apply_retention(records, policy)
    assert kept == records[len(records) - len(kept):]
    if max_records is not None:
        assert len(kept) <= max_records
    if max_total_bytes is not None:
        assert sum(len(repr(r).encode()) for r in kept) <= max_total_bytes
