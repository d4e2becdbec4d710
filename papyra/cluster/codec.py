"""How messages cross the wire between the members of a cluster: one codec, JSON by default.

A :class:`Codec` turns a message into bytes and back. :class:`JsonCodec` (orjson) is the
default: it carries JSON values as themselves and, tagged so they come back as what they were,
tuples, bytes, ``STOP``, actor refs (as their address: a ref received from another member is
usable at once), and instances of the dataclasses and enums you :meth:`~JsonCodec.register`.
Nothing is pickled: a member only ever builds the types it registered itself.

A message the codec cannot carry fails at the ``tell``/``ask`` that sends it, with
:class:`~papyra.exceptions.MessageNotSerializable` naming the offending value and the fix.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import math
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import orjson

from papyra import _accel
from papyra._envelope import STOP
from papyra.exceptions import MessageNotSerializable

__all__ = ("Codec", "JsonCodec")


@runtime_checkable
class Codec(Protocol):
    """Turns messages into bytes and back. ``refs`` converts actor refs (see JsonCodec)."""

    def encode(self, message: Any, refs: Callable[[Any], str | None]) -> bytes:
        """The bytes of ``message``; ``MessageNotSerializable`` if it cannot be carried.

        ``refs(obj)`` returns the wire form (a ``papyra://`` URI) of an actor ref, else None.
        """

    def decode(self, data: bytes, refs: Callable[[str], Any]) -> Any:
        """The message ``data`` encodes; ``refs(uri)`` rebuilds an actor ref."""


_TAG = "$p"  # objects carrying this key are tagged values, never plain dicts
_TAG_BYTES = b'"$p"'  # how the key reads in what encode() wrote
_DOLLAR = ord("$")
_is_plain = _accel.ndjson.is_plain  # the twin chosen at import
_CONTAINERS = frozenset((list, dict))


class JsonCodec:
    """The default codec: orjson, with tags for what JSON cannot say by itself.

    Carried as themselves: ``None``, ``bool``, ``int`` (64-bit), ``float``, ``str``, ``list``,
    and ``dict`` with ``str`` keys. Tagged: ``tuple``, ``bytes``, NaN and the infinities,
    ``STOP``, actor refs, and instances of registered dataclasses (their fields, recursively)
    and enums (their value).
    Register the same types, under the same names, on every member::

        codec = JsonCodec()
        codec.register(PlaceOrder)            # name: "module.QualName" unless given
        transport = RedisStreamsTransport(url, cluster="shop", codec=codec)
    """

    def __init__(self) -> None:
        self._by_type: dict[type, str] = {}
        self._by_name: dict[str, type] = {}

    def register(self, cls: type, *, name: str | None = None) -> type:
        """Let instances of ``cls`` (a dataclass or an Enum) cross the wire; returns ``cls``.

        Usable as a decorator. Register at start-up, before the system sends or receives
        such instances, the same classes under the same names on every member.

        :raises TypeError: ``cls`` is not a dataclass or an Enum class.
        :raises ValueError: ``name`` (default ``module.QualName``) is already taken by
            another class.
        """
        if not isinstance(cls, type) or not (
            dataclasses.is_dataclass(cls) or issubclass(cls, enum.Enum)
        ):
            raise TypeError(
                f"JsonCodec.register() takes a dataclass or an Enum class, not {cls!r}."
            )
        key = name if name is not None else f"{cls.__module__}.{cls.__qualname__}"
        taken = self._by_name.get(key)
        if taken is not None and taken is not cls:
            raise ValueError(f"codec name {key!r} is already registered for {taken!r}.")
        self._by_type[cls] = key
        self._by_name[key] = cls
        return cls

    def registered(self) -> dict[str, type]:
        """Wire name -> class, for every registered type."""
        return dict(self._by_name)

    # -- encoding -------------------------------------------------------------------------------

    def encode(self, message: Any, refs: Callable[[Any], str | None]) -> bytes:
        """The JSON bytes of ``message`` (tagged where JSON has no form for a value).

        Called by the member at each remote ``tell``/``ask`` and reply, in the caller's task.

        :raises MessageNotSerializable: naming the first value that cannot be carried (and
            the fix), an int beyond 64 bits, or lists and dicts nested deeper than orjson
            writes (more than 254 levels).
        """
        # Plain JSON (the common case) goes to orjson as it is; anything else is rebuilt.
        try:
            plain = (
                message if _is_plain(message, _TAG)
                else self._plain(message, refs, "message")
            )
            return orjson.dumps(plain)
        except orjson.JSONEncodeError as exc:  # e.g. an int beyond 64 bits, or too deep
            raise MessageNotSerializable(f"cannot encode the message: {exc}") from None
        except RecursionError:
            raise MessageNotSerializable(
                "cannot encode the message: it is nested too deeply"
            ) from None

    def _plain(self, value: Any, refs: Callable[[Any], str | None], where: str) -> Any:
        kind = type(value)
        if kind is float and not math.isfinite(value):  # JSON has no NaN or infinity
            return {_TAG: "float", "v": repr(value)}
        if value is None or kind in (str, int, float, bool):
            return value
        if kind is list:
            return [self._plain(v, refs, f"{where}[{i}]") for i, v in enumerate(value)]
        if kind is dict:
            out: dict[str, Any] = {}
            for k, v in value.items():
                if type(k) is not str:
                    raise MessageNotSerializable(
                        f"{where} has a key {k!r} that is not a str: JSON objects have string "
                        "keys only."
                    )
                out[k] = self._plain(v, refs, f"{where}[{k!r}]")
            if _TAG in out:
                return {_TAG: "dict", "v": out}
            return out
        if kind is tuple:
            return {_TAG: "tuple", "v": [self._plain(v, refs, where) for v in value]}
        if kind is bytes:
            return {_TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
        if value is STOP:
            return {_TAG: "stop"}
        uri = refs(value)
        if uri is not None:
            return {_TAG: "ref", "v": uri}
        name = self._by_type.get(kind)
        if name is not None:
            if isinstance(value, enum.Enum):
                return {_TAG: "enum", "t": name, "v": self._plain(value.value, refs, where)}
            fields = {
                f.name: self._plain(getattr(value, f.name), refs, f"{where}.{f.name}")
                for f in dataclasses.fields(value)
            }
            return {_TAG: "obj", "t": name, "v": fields}
        hint = (
            f"register it on every member: codec.register({kind.__name__})"
            if dataclasses.is_dataclass(value) or isinstance(value, enum.Enum)
            else "send JSON values, tuples, bytes, refs, or registered dataclasses and enums"
        )
        raise MessageNotSerializable(
            f"{where} is a {kind.__module__}.{kind.__qualname__}, which the cluster codec "
            f"cannot carry: {hint}."
        )

    # -- decoding -------------------------------------------------------------------------------

    def decode(self, data: bytes, refs: Callable[[str], Any]) -> Any:
        """The message :meth:`encode` made ``data`` from; refs come back through ``refs``.

        Called by the receiving member's reader task for each message it delivers.

        :raises MessageNotSerializable: ``data`` names a type not registered here.
        """
        # Nothing tagged (orjson writes a key as it is): as read. A "$" byte is looked for
        # first (one memchr), the whole tag only where there is one.
        if _DOLLAR not in data or _TAG_BYTES not in data:
            return orjson.loads(data)
        return self._value(orjson.loads(data), refs)

    def _value(self, value: Any, refs: Callable[[str], Any]) -> Any:
        """What ``value`` (fresh from ``orjson.loads``: ours to change) stands for; plain
        lists and dicts are kept, only their tagged parts replaced."""
        kind = type(value)
        if kind is list:
            for i, v in enumerate(value):
                if type(v) in _CONTAINERS:
                    value[i] = self._value(v, refs)
            return value
        if kind is not dict:
            return value
        tag = value.get(_TAG)
        if tag is None:
            for k, v in value.items():
                if type(v) in _CONTAINERS:
                    value[k] = self._value(v, refs)  # same keys: iterating stays valid
            return value
        inner = value.get("v")
        if tag == "tuple":
            return tuple(self._value(v, refs) for v in inner)
        if tag == "bytes":
            return base64.b64decode(inner)
        if tag == "float":
            return float(inner)
        if tag == "stop":
            return STOP
        if tag == "ref":
            return refs(inner)
        if tag == "dict":
            return {k: self._value(v, refs) for k, v in inner.items()}
        cls = self._by_name.get(value.get("t", ""))
        if cls is None:
            raise MessageNotSerializable(
                f"received a {value.get('t')!r}, which is not registered with this member's "
                "codec: register the same types on every member."
            )
        if tag == "enum":
            return cls(self._value(inner, refs))
        return cls(**{k: self._value(v, refs) for k, v in inner.items()})
