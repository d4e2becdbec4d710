"""The one JSON codec of Papyra: orjson when it is importable, the standard library otherwise.

Nothing else in the package imports :mod:`orjson` or :mod:`json` for records; everything goes
through :func:`encode_line` and :func:`decode` (looked up on this module at call time, so that
:func:`set_backend` takes effect everywhere).

Encoding contract (both backends produce **identical bytes** for the same object):

* compact separators, keys in insertion order, non-ASCII kept verbatim (UTF-8), one trailing
  ``"\\n"``; control characters, ``"`` and ``\\`` escaped as JSON requires (lower-case ``\\u00XX``);
* ``str``/``int``/``float``/``dict``/``list`` subclasses are written as their base type; tuples
  (exact ``tuple`` and subclasses such as named tuples) become arrays; an ``enum.Enum`` member is
  written as its ``value``; ``uuid.UUID`` as its canonical text;
* dataclasses, ``datetime``/``date``/``time`` and every other object go through ``default``
  (for records: :func:`papyra.persistence._records.json_default`);
* pinned differences between orjson and ``json`` resolved the same way on both paths:

  - ``NaN``, ``Infinity`` and ``-Infinity`` are written as ``null`` (JSON has no such numbers);
  - integers outside ``[-2**63, 2**64 - 1]`` are written as **strings** of their decimal digits
    (orjson cannot write them, and a reader built on orjson would read them back as lossy floats);
  - non-``str`` dict keys: ``True``/``False``/``None`` → ``"true"``/``"false"``/``"null"``,
    integers → their decimal text, floats → their JSON number text (non-finite: ``"NaN"``,
    ``"Infinity"``, ``"-Infinity"``), ``str`` subclasses → their text, enum members → the key of
    their value; any other key is passed to ``default``: a ``str`` it returns is the key, any
    other result gives ``str(key)`` (so with the records' default every such key is
    ``str(key)``), and an exception it raises propagates (the strict default refuses the key);
  - lone surrogates in strings (not encodable as UTF-8) become U+FFFD;
  - float text is the shortest round-trip form, as orjson prints it (``1e-7``, ``0.00001``,
    ``1e+16``), not Python's ``repr`` (``1e-07``, ``1e-05``);
  - nesting deeper than 254 containers raises ``TypeError`` (orjson's limit).

Decoding contract: :func:`decode` takes ``bytes``/``bytearray``/``memoryview``/``str`` holding one
JSON document (surrounding JSON whitespace allowed) and raises ``ValueError`` for anything that is
not strict RFC 8259 UTF-8 JSON (no ``NaN``, no BOM, no invalid UTF-8, no number that overflows a
double). Integers beyond 64 bits decode as floats on both paths. One difference is pinned but not
resolved: a ``"\\ud800"`` escape (lone surrogate) is rejected by orjson and accepted by ``json``.

The standard-library path is used when orjson is missing, when ``PAPYRA_PURE_JSON`` is set to
anything but ``""``/``"0"`` at import, or after ``set_backend("json")`` (tests).
"""

from __future__ import annotations

import enum
import json
import math
import os
import uuid
from collections.abc import Callable
from typing import Any, Literal

__all__ = (
    "BACKEND",
    "Default",
    "available_backends",
    "decode",
    "encode_line",
    "orjson_call",
    "set_backend",
)

Default = Callable[[Any], Any]
BackendName = Literal["orjson", "json"]

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    _orjson = None  # type: ignore[assignment]

#: Container depth orjson refuses to exceed; the pure path enforces the same limit.
MAX_DEPTH = 254
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1


def _str_default(obj: Any) -> Any:
    return str(obj)


# ----------------------------------------------------------------------------------------------
# Canonical form: the value orjson would write, as plain dict / list / str / int / float / bool /
# None. The pure path always encodes through it; the orjson path only after orjson refused the
# object (big int, non-str key, surrogate, too deep), so it must agree with orjson's own handling
# of every value orjson accepts.
# ----------------------------------------------------------------------------------------------


def _text(s: str) -> str:
    text = str.__str__(s)  # an exact str, also for subclasses with their own __str__
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _float_key(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return _float_text(x)


def _key(key: Any, default: Default) -> str:
    if isinstance(key, str):
        return _text(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, enum.Enum):
        return _key(key.value, default)
    if isinstance(key, int):
        return int.__repr__(key)
    if isinstance(key, float):
        return _float_key(key)
    # Any other key is offered to ``default``: a string it returns is the key, anything else
    # gives ``str(key)``. An exception it raises (a strict default refusing the object)
    # propagates.
    converted = default(key)
    return converted if isinstance(converted, str) else str(key)


def _canonical(obj: Any, default: Default, depth: int) -> Any:
    if isinstance(obj, str):
        return _text(obj)
    if obj is None or obj is True or obj is False:
        return obj
    if isinstance(obj, enum.Enum):
        return _canonical(obj.value, default, depth)
    if isinstance(obj, int):
        value = int(obj)
        return value if _INT_MIN <= value <= _INT_MAX else int.__repr__(value)
    if isinstance(obj, float):
        number = float(obj)
        return number if math.isfinite(number) else None
    if isinstance(obj, (dict, list, tuple)):
        if depth >= MAX_DEPTH:
            raise TypeError(f"cannot encode values nested deeper than {MAX_DEPTH} containers")
        if isinstance(obj, dict):
            return {_key(k, default): _canonical(v, default, depth + 1) for k, v in obj.items()}
        return [_canonical(v, default, depth + 1) for v in obj]
    if isinstance(obj, uuid.UUID):
        return str(obj)
    # Everything else, exactly as orjson hands it to ``default`` (dataclasses and datetimes are
    # passed through on purpose). ``default`` may return another unsupported object: orjson calls
    # it again, up to its recursion limit, and so do we.
    return _canonical(default(obj), default, depth + 1)


def _float_text(x: float) -> str:
    # orjson prints the same shortest round-trip digits as repr(); only the exponent spelling
    # differs: no zero padding ("1e-7", not "1e-07") and no exponent at all for 1e-5 <= |x| < 1e-4.
    text = float.__repr__(x)
    mantissa, sep, exponent = text.partition("e")
    if not sep:
        return text
    power = int(exponent)
    if power == -5:
        sign = "-" if mantissa.startswith("-") else ""
        return sign + "0.0000" + mantissa.lstrip("-").replace(".", "")
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


_escape = json.encoder.encode_basestring  # C-backed when the accelerator is built


def _write(obj: Any, out: list[str]) -> None:
    # ``obj`` is canonical: only exact dict / list / str / int / float / bool / None.
    if isinstance(obj, str):
        out.append(_escape(obj))
    elif obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, int):
        out.append(int.__repr__(obj))
    elif isinstance(obj, float):
        out.append(_float_text(obj))
    elif isinstance(obj, dict):
        if not obj:
            out.append("{}")
            return
        sep = "{"
        for k, v in obj.items():
            out.append(sep)
            out.append(_escape(k))
            out.append(":")
            _write(v, out)
            sep = ","
        out.append("}")
    else:
        if not obj:
            out.append("[]")
            return
        sep = "["
        for v in obj:
            out.append(sep)
            _write(v, out)
            sep = ","
        out.append("]")


def _encode_line_json(obj: Any, default: Default | None = None) -> bytes:
    out: list[str] = []
    _write(_canonical(obj, default or _str_default, 0), out)
    out.append("\n")
    return "".join(out).encode("utf-8")


_JSON_WS = " \t\n\r"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number is infinity when parsed as double")
    return value


def _parse_int(text: str) -> int | float:
    value = int(text)
    if _INT_MIN <= value <= _INT_MAX:
        return value
    return _parse_float(text)


_json_decoder = json.JSONDecoder(
    parse_constant=_reject_constant, parse_float=_parse_float, parse_int=_parse_int
)


def _decode_json(data: bytes | bytearray | memoryview | str) -> Any:
    text = data if isinstance(data, str) else bytes(data).decode("utf-8")
    if text[:1] == "\ufeff":
        raise ValueError("UTF-8 byte order mark (BOM) is not supported")
    try:
        # JSONDecoder.decode would also strip Python's whitespace class (e.g. "\x0c");
        # JSON has four.
        stripped = text.strip(_JSON_WS)
        value, end = _json_decoder.raw_decode(stripped)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if end != len(stripped):
        raise ValueError("extra data after the JSON document")
    return value


if _orjson is not None:
    _OPTIONS = (
        _orjson.OPT_APPEND_NEWLINE
        | _orjson.OPT_PASSTHROUGH_DATACLASS
        | _orjson.OPT_PASSTHROUGH_DATETIME
    )
    _dumps = _orjson.dumps
    _EncodeError = _orjson.JSONEncodeError

    def _hook(fallback: Default) -> Default:
        def hook(value: Any) -> Any:
            # Tuple subclasses (named tuples) are arrays on the pure path as in 0.3.0's json.
            if isinstance(value, tuple):
                return list(value)
            return fallback(value)

        return hook

    def _encode_line_orjson(obj: Any, default: Default | None = None) -> bytes:
        fallback = default or _str_default
        try:
            return _dumps(obj, default=_hook(fallback), option=_OPTIONS)
        except _EncodeError:
            # A big int, a non-str key, a surrogate or too deep: normalise, then encode again.
            return _dumps(_canonical(obj, fallback, 0), option=_orjson.OPT_APPEND_NEWLINE)

    _decode_orjson: Callable[[bytes | bytearray | memoryview | str], Any] = _orjson.loads


def orjson_call(default: Default | None = None) -> tuple[Default, int]:
    """``(hook, option)``: the arguments the orjson backend's :func:`encode_line` passes
    ``orjson.dumps`` for ``default`` (``default=hook, option=option``).

    For compiled callers that make that call themselves and keep the hook (the compiled NDJSON
    twin): they must check that :data:`BACKEND` is ``"orjson"`` first, and hand the object to
    :func:`encode_line` when ``orjson.dumps`` raises ``orjson.JSONEncodeError`` (the values
    it encodes after normalising them). ``RuntimeError`` if orjson is not installed.
    """
    if _orjson is None:
        raise RuntimeError("orjson is not installed")
    return _hook(default or _str_default), _OPTIONS


def available_backends() -> tuple[BackendName, ...]:
    """The codec backends this interpreter can use: ``("orjson", "json")`` or ``("json",)``."""
    return ("orjson", "json") if _orjson is not None else ("json",)


#: Name of the active backend: ``"orjson"`` or ``"json"``.
BACKEND: BackendName
#: ``encode_line(obj, default=None) -> bytes``: one compact JSON document plus ``"\\n"``.
encode_line: Callable[..., bytes]
#: ``decode(data) -> Any``: parse one JSON document; ``ValueError`` if it is not valid JSON.
decode: Callable[[bytes | bytearray | memoryview | str], Any]


def set_backend(name: BackendName) -> BackendName:
    """Switch the codec process-wide (tests and benchmarks); returns the previous backend name.

    Raises ``ValueError`` for an unknown or unavailable backend. Not thread-safe: call it while
    no record is being encoded.
    """
    global BACKEND, encode_line, decode
    previous: BackendName = globals().get("BACKEND", name)
    if name == "orjson" and _orjson is not None:
        encode_line, decode = _encode_line_orjson, _decode_orjson
    elif name == "json":
        encode_line, decode = _encode_line_json, _decode_json
    else:
        raise ValueError(
            f"JSON backend {name!r} is not available; choose from {available_backends()}"
        )
    BACKEND = name
    return previous


set_backend(
    "json"
    if _orjson is None or os.environ.get("PAPYRA_PURE_JSON", "") not in ("", "0")
    else "orjson"
)
