"""The NDJSON twin: encode then scan gives back the records; any garbage scans without raising."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papyra import _accel

KINDS = {"event": 1, "audit": 2, "dead_letter": 3}


def oracle(line: bytes) -> tuple[bool, bool]:
    """(valid JSON, JSON object) for one line without its terminator, by orjson."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False, False
    return True, isinstance(value, dict)


def lines_of(buf: bytes) -> list[bytes]:
    parts = buf.split(b"\n")
    return parts if parts[-1] else parts[:-1]


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
    max_leaves=10,
)
records = st.fixed_dictionaries(
    {"kind": st.sampled_from(["event", "audit", "dead_letter", "other"])},
    optional={
        "timestamp": st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(-(2**53), 2**53),
            st.text(max_size=3),
            st.none(),
            st.booleans(),
        ),
        "payload": values,
        "system_id": st.text(),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(records, max_size=20))
def test_records_encode_and_scan_back(impl: Any, recs: list[dict[str, Any]]) -> None:
    nd = impl.ndjson
    buf = b"".join(nd.encode_record(r) for r in recs)
    table = nd.scan_lines(buf, final=True, want=nd.WANT_KIND | nd.WANT_STAMP)
    assert table.count == len(recs)
    assert table.tail == len(buf)
    assert list(nd.invalid_lines(table)) == []
    start = 0
    for i, record in enumerate(recs):
        end = table.ends[i]
        assert orjson.loads(buf[start:end]) == orjson.loads(orjson.dumps(record))
        flag = table.flags[i]
        assert flag & (nd.F_JSON | nd.F_OBJECT) == nd.F_JSON | nd.F_OBJECT
        assert flag & nd.F_NOEOL == 0
        assert (flag & nd.KIND_MASK) >> nd.KIND_SHIFT == KINDS.get(record["kind"], 0)
        ts = record.get("timestamp")
        numeric = type(ts) in (int, float)
        assert bool(flag & nd.F_STAMP) == numeric
        if numeric:
            assert table.stamps[i] == float(ts)
        else:
            assert math.isnan(table.stamps[i])
        start = end
    assert list(nd.spans(table, nd.F_OBJECT, nd.F_OBJECT)) == ([0, len(buf)] if recs else [])


garbage = st.lists(
    st.one_of(
        st.binary(max_size=30),
        st.sampled_from(
            [b"", b" ", b"{}", b"[1]", b'{"kind":"event"}', b"{", b"\xff", b"NaN", b"\r", b'"x"']
        ),
        records.map(lambda r: orjson.dumps(r)),
    ),
    max_size=25,
).map(lambda parts: b"\n".join(parts))


@settings(max_examples=500, deadline=None)
@given(garbage, st.booleans())
def test_any_bytes_scan_without_raising_and_match_the_oracle(
    impl: Any, buf: bytes, final: bool
) -> None:
    nd = impl.ndjson
    table = nd.scan_lines(buf, final=final, want=nd.WANT_KIND)
    lines = lines_of(buf)
    terminated = buf.endswith(b"\n") or not buf
    expected_count = len(lines) if (terminated or final) else len(lines) - 1
    assert table.count == expected_count
    assert table.tail == (len(buf) if (terminated or final) else buf.rfind(b"\n") + 1)
    bad = []
    start = 0
    for i in range(table.count):
        line = lines[i]
        end = table.ends[i]
        assert buf[start:end].rstrip(b"\n") == line
        valid, obj = oracle(line)
        flag = table.flags[i]
        assert bool(flag & nd.F_JSON) == valid, line
        assert bool(flag & nd.F_OBJECT) == obj, line
        noeol = not buf[start:end].endswith(b"\n")
        assert bool(flag & nd.F_NOEOL) == noeol
        if not valid and not noeol:
            bad.append(i)
        start = end
    assert list(nd.invalid_lines(table)) == bad
    # line_ends finds the same boundaries without validating
    bounds = nd.line_ends(buf, final=final)
    assert list(bounds.ends) == list(table.ends) and bounds.tail == table.tail
    # spans cover exactly the object lines
    flat = iter(nd.spans(table, nd.F_OBJECT, nd.F_OBJECT))  # start, end, start, end, ...
    covered = b"".join(buf[s:e] for s, e in zip(flat, flat, strict=True))
    wanted = b"".join(
        buf[(table.ends[i - 1] if i else 0) : table.ends[i]]
        for i in range(table.count)
        if table.flags[i] & nd.F_OBJECT
    )
    assert covered == wanted
    assert nd.count_lines(table, nd.F_OBJECT, nd.F_OBJECT) == len(
        nd.select_lines(table, nd.F_OBJECT, nd.F_OBJECT)
    )


def test_subrange_and_memoryview(impl: Any) -> None:
    nd = impl.ndjson
    buf = b'xx\n{"a":1}\n[2]\n{"b"'
    table = nd.scan_lines(memoryview(buf), 3, want=nd.WANT_KIND)
    assert list(table.ends) == [11, 15] and table.tail == 15 and table.start == 3
    assert list(table.flags) == [3, 1]
    final = nd.scan_lines(buf, 3, final=True)
    assert final.count == 3 and final.flags[2] == nd.F_NOEOL
    with pytest.raises(ValueError):
        nd.scan_lines(buf, 5, 2)


def test_crlf_and_spaced_layout_are_valid(impl: Any) -> None:
    nd = impl.ndjson
    buf = b'{"kind": "event", "timestamp": 1}\r\n{ "kind" : "audit" ,"timestamp":2.5 }\n'
    table = nd.scan_lines(buf, want=nd.WANT_KIND | nd.WANT_STAMP)
    assert [f & nd.KIND_MASK for f in table.flags] == [nd.KIND_EVENT, nd.KIND_AUDIT]
    assert list(table.stamps) == [1.0, 2.5]


def test_accel_selects_both_twins_together() -> None:
    from papyra._speedups import dispatch_py, ndjson_py

    if _accel.EXTENSIONS_ACTIVE:
        assert _accel.ndjson.__name__ == "papyra._speedups.ndjson_c"
        assert _accel.dispatch.__name__ == "papyra._speedups.dispatch_c"
    else:
        assert _accel.ndjson is ndjson_py
        assert _accel.dispatch is dispatch_py


def test_twins_agree(impl: Any) -> None:
    """Encode with one twin, scan with the other (meaningful once ndjson_c exists)."""
    from papyra._speedups import ndjson_py

    nd = impl.ndjson
    recs = [{"kind": "event", "timestamp": i, "payload": {"i": i, "s": "é" * i}} for i in range(50)]
    a = b"".join(nd.encode_record(r) for r in recs)
    b = ndjson_py.encode_records(recs)
    assert a == b
    ta = nd.scan_lines(a + b"{bad\n", final=True, want=3)
    tb = ndjson_py.scan_lines(a + b"{bad\n", final=True, want=3)
    assert list(ta.ends) == list(tb.ends) and ta.flags == tb.flags
