"""The ``papyra`` serializer proxy and its configuration hook.

:data:`serializer` is what the ASGI endpoints use to produce JSON bodies. By default it is a
:class:`CompactSerializer`: stdlib ``json`` with compact separators, non-ASCII kept as is and
NaN/Infinity rejected (so every body is strict JSON). The actor runtime itself does not use it.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from typing import IO, Any

from papyra.protocols.serializer import SerializerProtocol

__all__ = (
    "CompactSerializer",
    "SerializerConfig",
    "SerializerProxy",
    "StandardSerializerConfig",
    "serializer",
    "setup_serializer",
)


class CompactSerializer:
    """Stdlib ``json`` with compact defaults for ``dump``/``dumps``.

    Defaults: ``ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")``;
    keyword arguments override them per call. ``load``/``loads`` are plain ``json`` ones.
    """

    __slots__ = ("defaults",)

    def __init__(self, **defaults: Any) -> None:
        self.defaults: dict[str, Any] = {
            "ensure_ascii": False,
            "allow_nan": False,
            "indent": None,
            "separators": (",", ":"),
            **defaults,
        }

    def dump(self, obj: Any, fp: IO[str], **kwargs: Any) -> None:
        """Write ``obj`` as JSON text to ``fp`` (``json.dump`` with the defaults)."""
        json.dump(obj, fp, **{**self.defaults, **kwargs})

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """``obj`` as JSON text; ``TypeError`` / ``ValueError`` as ``json.dumps`` raises."""
        return json.dumps(obj, **{**self.defaults, **kwargs})

    def load(self, fp: IO[str] | IO[bytes], **kwargs: Any) -> Any:
        """The value of the JSON document in ``fp`` (``json.load``)."""
        return json.load(fp, **kwargs)

    def loads(self, s: str | bytes | bytearray, **kwargs: Any) -> Any:
        """The value of the JSON document ``s`` (``json.loads``)."""
        return json.loads(s, **kwargs)


class SerializerConfig(ABC):
    """How to build the serializer that :data:`serializer` forwards to.

    Keyword arguments are kept in :attr:`options`. :meth:`configure` is a no-op hook that
    :func:`setup_serializer` calls only when ``skip_setup_configure`` is ``False``
    (default ``True``: most serializers need no global setup).
    """

    def __init__(self, *, skip_setup_configure: bool = True, **options: Any) -> None:
        self.skip_setup_configure = skip_setup_configure
        self.options: dict[str, Any] = options

    def configure(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Global one-time setup; does nothing by default."""

    @abstractmethod
    def get_serializer(self) -> SerializerProtocol:
        """Return the object that :data:`serializer` forwards to."""


class StandardSerializerConfig(SerializerConfig):
    """Builds a :class:`CompactSerializer`; :attr:`options` become its per-call defaults."""

    def get_serializer(self) -> CompactSerializer:
        """A new :class:`CompactSerializer` with :attr:`options` as its defaults."""
        return CompactSerializer(**self.options)


class SerializerProxy:
    """Forwards ``dump/dumps/load/loads`` (and any other attribute) to a bound serializer.

    The first use binds ``StandardSerializerConfig().get_serializer()`` if nothing was bound.
    Binding is thread-safe and may happen at any time; each call uses the serializer bound
    at that moment.
    """

    __slots__ = ("_lock", "_serializer")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._serializer: SerializerProtocol | None = None

    def bind_serializer(self, serializer: SerializerProtocol | None) -> None:
        """Forward to ``serializer`` from now on; ``None`` unbinds (next use binds the default)."""
        with self._lock:
            self._serializer = serializer

    def _bound(self) -> SerializerProtocol:
        bound = self._serializer
        if bound is None:
            with self._lock:
                bound = self._serializer
                if bound is None:
                    bound = self._serializer = StandardSerializerConfig().get_serializer()
        return bound

    def dump(self, obj: Any, fp: Any, **kwargs: Any) -> None:
        """The bound serializer's ``dump``."""
        self._bound().dump(obj, fp, **kwargs)

    def dumps(self, obj: Any, **kwargs: Any) -> Any:
        """The bound serializer's ``dumps`` (``str`` or ``bytes``, as it returns)."""
        return self._bound().dumps(obj, **kwargs)

    def load(self, fp: Any, **kwargs: Any) -> Any:
        """The bound serializer's ``load``."""
        return self._bound().load(fp, **kwargs)

    def loads(self, s: str | bytes | bytearray, **kwargs: Any) -> Any:
        """The bound serializer's ``loads``."""
        return self._bound().loads(s, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(self._bound(), name)

    def __repr__(self) -> str:
        return f"<SerializerProxy bound to {self._serializer!r}>"


serializer = SerializerProxy()


def setup_serializer(serializer_config: SerializerConfig | None = None) -> None:
    """Bind ``serializer_config.get_serializer()`` to :data:`serializer`.

    ``None`` means :class:`StandardSerializerConfig`. :meth:`SerializerConfig.configure`
    runs first unless ``skip_setup_configure`` is set. Takes effect at the call, for the
    whole process.

    :raises ValueError: ``serializer_config`` is not a :class:`SerializerConfig`.
    """
    if serializer_config is None:
        serializer_config = StandardSerializerConfig()
    elif not isinstance(serializer_config, SerializerConfig):
        raise ValueError(
            "`serializer_config` must be an instance of papyra.serializers.SerializerConfig, "
            f"not {type(serializer_config).__name__}."
        )
    if not serializer_config.skip_setup_configure:
        serializer_config.configure()
    serializer.bind_serializer(serializer_config.get_serializer())
