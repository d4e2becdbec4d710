"""Every public callable has a docstring that names what it raises.

The reference pages render what griffe reads from the sources, so the checks read the sources
through griffe too. The objects checked are every name in the ``__all__`` of every public module
(:func:`tests.docs.test_site._public_modules`) and, for each such class, its own public methods,
functions and properties (an underscore name is not rendered; a plain attribute is described by
its class).

* **A docstring.** Each of them has a non-empty docstring of its own. An override does not
  borrow its base's: the page shows only what griffe sees on the override, so an override with
  no docstring renders empty.
* **Its raises.** Each exception class that the body raises itself (``raise X(...)`` or
  ``raise X``; not in a nested function or class, not a re-raise of a variable) is named in a
  Sphinx ``:raises X:`` field of its docstring (a dotted ``papyra.exceptions.X`` or ``~`` form
  counts). A class answers for its ``__init__``, ``__post_init__`` and ``__new__``, whose
  docstrings the page merges with the class's.

Each test fails with the full list of what is missing.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

try:
    import griffe
except ImportError:
    pytest.skip("pip install -e '.[docs]'", allow_module_level=True)

from tests.docs.test_site import _public_modules

ROOT = Path(__file__).resolve().parents[2]

# The methods whose raises a class's docstring answers for (the page merges __init__ into it).
_CONSTRUCTORS = ("__init__", "__post_init__", "__new__")
_RAISES_FIELD = re.compile(r"^\s*:raises?\s+([^:]+):", re.MULTILINE)


def _load() -> Any:
    loader = griffe.GriffeLoader(search_paths=[str(ROOT)], docstring_parser="sphinx")
    package = loader.load("papyra")
    loader.resolve_aliases(external=False, implicit=False)
    return package


def _target(obj: Any) -> Any:
    return obj.final_target if obj.is_alias else obj


def _checked() -> dict[str, Any]:
    """Path of each checked object -> the object (aliases followed; each object once)."""
    package = _load()
    found: dict[str, Any] = {}

    def add(obj: Any) -> None:
        if obj.path in found:
            return
        found[obj.path] = obj
        if not obj.is_class:
            return
        for name, member in obj.members.items():
            if name.startswith("_") or member.is_alias:
                continue  # private, or imported into the class body from elsewhere
            if member.is_attribute and "property" not in member.labels:
                continue
            add(member)

    for module, names in _public_modules().items():
        home = package if module == "papyra" else package[module.removeprefix("papyra.")]
        for name in names:
            obj = _target(home[name])
            if obj.is_attribute:
                continue  # a constant or a type alias, not a callable
            add(obj)
    return found


_CHECKED = _checked()


def _docstring(obj: Any) -> str:
    return obj.docstring.value if obj.docstring is not None else ""


def _raised(obj: Any) -> set[str]:
    """The exception classes ``obj``'s own body raises by name (nested scopes excluded)."""
    source = obj.source
    if not source.strip():
        return set()  # synthesized (a dataclass's __init__): no body to read
    tree = ast.parse(textwrap.dedent(source))
    names: set[str] = set()

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(child, ast.Raise) and child.exc is not None:
                exc = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
                name = exc.id if isinstance(exc, ast.Name) else getattr(exc, "attr", "")
                if name[:1].isupper():  # a class; `raise error` re-raises a variable
                    names.add(name)
            walk(child)

    for top in tree.body:  # the def itself: walk its body, not past it
        walk(top)
    return names


def _raises_fields(text: str) -> set[str]:
    """The exception names of the ``:raises X:`` fields of a docstring (last dotted part)."""
    named: set[str] = set()
    for field in _RAISES_FIELD.findall(text):
        for token in re.split(r"[\s,|]+", field.strip()):
            if token and token != "or":
                named.add(token.lstrip("~").rsplit(".", 1)[-1])
    return named


def test_checked_set_is_the_public_api() -> None:
    """Guard the walk itself: it sees the main classes and their methods and properties."""
    for path in (
        "papyra.system.ActorSystem.spawn",
        "papyra.ref.ActorRef.ask",
        "papyra.context.ActorContext.watch",
        "papyra.persistence.backends.memory.InMemoryPersistence.closed",
        "papyra.testing._kit.TestKit.expect_event",
    ):
        assert path in _CHECKED, path
    assert not any(part.startswith("__") for path in _CHECKED for part in path.split("."))


def test_every_public_callable_has_a_docstring() -> None:
    missing = sorted(path for path, obj in _CHECKED.items() if not _docstring(obj).strip())
    assert not missing, "public callables without a docstring of their own:\n  " + "\n  ".join(
        missing
    )


def test_every_raised_exception_is_in_a_raises_field() -> None:
    undocumented: list[str] = []
    for path, obj in sorted(_CHECKED.items()):
        if obj.is_class:
            bodies = [m for n, m in obj.members.items() if n in _CONSTRUCTORS and not m.is_alias]
            text = _docstring(obj) + "\n" + "\n".join(_docstring(m) for m in bodies)
        elif obj.is_function or "property" in obj.labels:
            bodies, text = [obj], _docstring(obj)
        else:
            continue
        raised = set().union(*(_raised(body) for body in bodies)) if bodies else set()
        missing = sorted(raised - _raises_fields(text))
        if missing:
            undocumented.append(f"{path}: {', '.join(missing)}")
    assert not undocumented, (
        "raised but not named in a `:raises X:` field of the docstring:\n  "
        + "\n  ".join(undocumented)
    )
