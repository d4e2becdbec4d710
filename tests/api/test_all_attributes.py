"""Every public module's ``__all__`` is a tuple listing exactly its public names.

Which modules: ``papyra`` and every module under it found by walking the source tree with
:mod:`pkgutil` (nothing is imported to find them), minus the private ones: any dotted
component starting with ``_`` (``papyra._accel``, ``papyra._speedups.*``, ``papyra.cli._base``,
``papyra.persistence._file``, a ``__main__`` that would run the CLI). The ``papyra.cli``
modules are included: importing them only builds click command objects, nothing runs.

Which names: public means not underscore-prefixed, bound at the top level of the module's
own source by a ``def``, ``class`` or assignment (read with :mod:`ast`), present at run time
and not a module object. A module may list more than that only as a deliberate re-export:

* a name imported from a private module (``papyra.system`` re-exports ``STOP`` and friends
  from ``papyra._envelope``) or from one of the package's own submodules (a package facade
  such as ``papyra.protocols``);
* any name of a lazy package (a module-level ``__getattr__``: ``papyra``,
  ``papyra.persistence``), where every listed name must then resolve.

In every case ``from m import *`` must work in a fresh namespace and bind exactly ``__all__``.
A module without ``__all__`` fails: its star-import would bind whatever happens to be in its
namespace, submodules that something else imported included.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import subprocess
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

PACKAGE_DIR = REPO_ROOT / "papyra"


@dataclass
class Source:
    """What a module's own source binds at its top level (``if``/``try`` bodies included)."""

    defined: set[str] = field(default_factory=set)
    #: name -> absolute module it is imported from (``import a.b`` binds ``a`` from ``a``)
    imported: dict[str, str] = field(default_factory=dict)
    lazy: bool = False


def _is_private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split("."))


def _walk(directory: Path, prefix: str) -> list[tuple[str, Path, bool]]:
    found = []
    for info in pkgutil.iter_modules([str(directory)], prefix):
        if _is_private(info.name):
            continue
        leaf = info.name.rpartition(".")[2]
        if info.ispkg:
            found.append((info.name, directory / leaf / "__init__.py", True))
            found += _walk(directory / leaf, info.name + ".")
        else:
            found.append((info.name, directory / f"{leaf}.py", False))
    return found


MODULES: dict[str, tuple[Path, bool]] = {
    name: (path, is_pkg)
    for name, path, is_pkg in [
        ("papyra", PACKAGE_DIR / "__init__.py", True),
        *_walk(PACKAGE_DIR, "papyra."),
    ]
}


def _read_source(module: str) -> Source:
    path, is_pkg = MODULES[module]
    package = module if is_pkg else module.rpartition(".")[0]
    source = Source()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                source.defined.add(node.name)
                source.lazy |= node.name == "__getattr__"
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    source.defined.update(
                        n.id for n in ast.walk(target) if isinstance(n, ast.Name)
                    )
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                if isinstance(node.target, ast.Name):
                    source.defined.add(node.target.id)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.partition(".")[0]
                    source.imported[bound] = alias.name if alias.asname else bound
            elif isinstance(node, ast.ImportFrom):
                origin = importlib.util.resolve_name(
                    "." * node.level + (node.module or ""), package
                )
                for alias in node.names:
                    source.imported[alias.asname or alias.name] = origin
            elif isinstance(node, ast.If):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body)
    return source


SOURCES = {module: _read_source(module) for module in MODULES}
LAZY = sorted(module for module, source in SOURCES.items() if source.lazy)

#: (check, module) -> why it fails today; such cases are marked xfail(strict=True). Empty:
#: every public module's ``__all__`` is right. Add an entry only with a plan to remove it.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def _cases(check: str, modules: list[str]) -> list[object]:
    cases: list[object] = []
    for module in modules:
        reason = KNOWN_FAILURES.get((check, module))
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        cases.append(pytest.param(module, marks=marks, id=module))
    return cases


def _public_names(module: types.ModuleType) -> set[str]:
    """Public names the module's own source defines (see the module docstring)."""
    defined = SOURCES[module.__name__].defined
    namespace = vars(module)
    return {
        name
        for name in defined
        if not name.startswith("_")
        and name in namespace
        and not isinstance(namespace[name], types.ModuleType)
    }


#: Modules that exist only as a shorter import path for another public module.
ALIASES = {"papyra.persistence.redis": "papyra.persistence.backends.redis"}


def _is_reexport(module: str, origin: str) -> bool:
    """A deliberate re-export: from a private module, from the package's own submodule, or
    everything an alias module (:data:`ALIASES`) passes on."""
    return _is_private(origin) or origin.startswith(module + ".") or ALIASES.get(module) == origin


def test_the_walk_finds_the_public_modules() -> None:
    assert {"papyra", "papyra.system", "papyra.persistence.json", "papyra.cli.app"} <= set(
        MODULES
    )
    assert not [module for module in MODULES if _is_private(module)]


@pytest.mark.parametrize("name", _cases("tuple", sorted(MODULES)))
def test_all_is_a_tuple_of_unique_strings(name: str) -> None:
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    exported = module.__all__
    assert isinstance(exported, tuple), f"{name}.__all__ is a {type(exported).__name__}"
    assert all(isinstance(item, str) for item in exported)
    duplicates = sorted({item for item in exported if exported.count(item) > 1})
    assert not duplicates, f"{name}.__all__ lists {duplicates} more than once"


@pytest.mark.parametrize("name", _cases("names", sorted(MODULES)))
def test_all_lists_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(getattr(module, "__all__", ()))
    source = SOURCES[name]
    missing = sorted(_public_names(module) - exported)
    assert not missing, f"public in {name} but not in __all__: {missing}"
    if source.lazy:
        unresolved = []
        for item in sorted(exported):
            try:
                getattr(module, item)
            except (AttributeError, ImportError) as exc:
                unresolved.append(f"{item} ({type(exc).__name__}: {exc})")
        assert not unresolved, f"{name}.__all__ names that do not resolve: {unresolved}"
        return
    extra = exported - source.defined
    not_reexports = sorted(
        item
        for item in extra
        if item not in source.imported or not _is_reexport(name, source.imported[item])
    )
    assert not not_reexports, (
        f"{name}.__all__ lists names it neither defines nor deliberately re-exports: "
        f"{not_reexports}"
    )
    unresolved = sorted(item for item in exported if not hasattr(module, item))
    assert not unresolved, f"{name}.__all__ names that do not exist: {unresolved}"


@pytest.mark.parametrize("name", _cases("star", sorted(MODULES)))
def test_star_import_binds_exactly_all(name: str) -> None:
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    namespace: dict[str, object] = {}
    exec(f"from {name} import *", namespace)
    namespace.pop("__builtins__", None)
    assert set(namespace) == set(module.__all__)


@pytest.mark.parametrize("name", _cases("fresh", LAZY))
def test_star_import_of_a_lazy_package_works_in_a_fresh_interpreter(name: str) -> None:
    """The first thing a program does with a lazy package: no import order to lean on."""
    code = (
        f"namespace = {{}}\nexec('from {name} import *', namespace)\n"
        "print(' '.join(sorted(set(namespace) - {'__builtins__'})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    module = importlib.import_module(name)
    assert result.stdout.split() == sorted(module.__all__)
