"""``papyra.serializers`` and ``papyra.protocols.serializer``."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from papyra.protocols import SerializerProtocol
from papyra.serializers import (
    CompactSerializer,
    SerializerConfig,
    SerializerProxy,
    StandardSerializerConfig,
    serializer,
    setup_serializer,
)


@pytest.fixture(autouse=True)
def restore_serializer() -> Iterator[None]:
    bound = serializer._serializer
    yield
    serializer.bind_serializer(bound)


class UpperSerializer:
    """A custom serializer: JSON with upper-cased strings."""

    def dump(self, obj: Any, fp: Any, **kwargs: Any) -> None:
        fp.write(self.dumps(obj))

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj).upper()

    def load(self, fp: Any, **kwargs: Any) -> Any:
        return json.load(fp)

    def loads(self, s: str | bytes | bytearray, **kwargs: Any) -> Any:
        return json.loads(s)


class UpperConfig(SerializerConfig):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.configured = 0

    def configure(self) -> None:
        self.configured += 1

    def get_serializer(self) -> UpperSerializer:
        return UpperSerializer()


# -- CompactSerializer ----------------------------------------------------------------


def test_dumps_is_compact_and_keeps_non_ascii() -> None:
    assert CompactSerializer().dumps({"ok": True, "name": "café", "n": [1, 2]}) == (
        '{"ok":true,"name":"café","n":[1,2]}'
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_dumps_rejects_non_finite_numbers(value: float) -> None:
    with pytest.raises(ValueError):
        CompactSerializer().dumps({"x": value})


def test_call_arguments_override_the_defaults() -> None:
    assert CompactSerializer().dumps([1], indent=1) == "[\n 1\n]"
    assert CompactSerializer().dumps("é", ensure_ascii=True) == '"\\u00e9"'


def test_constructor_arguments_become_defaults() -> None:
    assert CompactSerializer(sort_keys=True).dumps({"b": 1, "a": 2}) == '{"a":2,"b":1}'


def test_dump_and_load_use_files() -> None:
    buffer = io.StringIO()
    CompactSerializer().dump({"a": "ü"}, buffer)
    assert buffer.getvalue() == '{"a":"ü"}'
    buffer.seek(0)
    assert CompactSerializer().load(buffer) == {"a": "ü"}


def test_loads_accepts_text_and_bytes() -> None:
    assert CompactSerializer().loads('{"a":1}') == {"a": 1}
    assert CompactSerializer().loads(b'{"a":1}') == {"a": 1}


# -- configs and setup ----------------------------------------------------------------


def test_serializer_config_is_abstract() -> None:
    with pytest.raises(TypeError):
        SerializerConfig()  # type: ignore[abstract]


def test_serializer_config_defaults() -> None:
    config = StandardSerializerConfig(sort_keys=True)
    assert config.skip_setup_configure is True
    assert config.options == {"sort_keys": True}
    assert config.configure() is None


def test_standard_config_builds_a_compact_serializer_with_its_options() -> None:
    built = StandardSerializerConfig(sort_keys=True).get_serializer()
    assert isinstance(built, CompactSerializer)
    assert built.dumps({"b": 1, "a": 2}) == '{"a":2,"b":1}'


def test_setup_serializer_rejects_other_objects() -> None:
    with pytest.raises(ValueError, match="SerializerConfig"):
        setup_serializer("json")  # type: ignore[arg-type]


def test_setup_serializer_binds_without_configure_by_default() -> None:
    config = UpperConfig()
    setup_serializer(config)
    assert config.configured == 0
    assert serializer.dumps({"a": "b"}) == '{"A": "B"}'


def test_setup_serializer_runs_configure_when_asked() -> None:
    config = UpperConfig(skip_setup_configure=False)
    setup_serializer(config)
    assert config.configured == 1


def test_setup_serializer_default_is_the_compact_serializer() -> None:
    setup_serializer(UpperConfig())
    setup_serializer()
    assert serializer.dumps({"a": 1}) == '{"a":1}'


# -- the proxy ------------------------------------------------------------------------


def test_proxy_uses_the_compact_serializer_until_something_is_bound() -> None:
    fresh = SerializerProxy()
    assert fresh.dumps({"ok": True, "text": "ñ"}) == '{"ok":true,"text":"ñ"}'
    assert isinstance(fresh._serializer, CompactSerializer)


def test_proxy_forwards_all_four_operations() -> None:
    fresh = SerializerProxy()
    fresh.bind_serializer(UpperSerializer())
    buffer = io.StringIO()
    fresh.dump(["x"], buffer)
    assert buffer.getvalue() == '["X"]'
    buffer.seek(0)
    assert fresh.load(buffer) == ["X"]
    assert fresh.loads('{"k": 1}') == {"k": 1}
    assert fresh.dumps("y") == '"Y"'


def test_proxy_forwards_extra_attributes() -> None:
    fresh = SerializerProxy()
    assert fresh.defaults["separators"] == (",", ":")


def test_unbinding_returns_to_the_default() -> None:
    fresh = SerializerProxy()
    fresh.bind_serializer(UpperSerializer())
    fresh.bind_serializer(None)
    assert fresh.dumps("y") == '"y"'


def test_protocol_is_structural() -> None:
    assert isinstance(serializer, SerializerProtocol)
    assert isinstance(CompactSerializer(), SerializerProtocol)
    assert isinstance(UpperSerializer(), SerializerProtocol)
    assert isinstance(json, SerializerProtocol)
    assert not isinstance(object(), SerializerProtocol)
