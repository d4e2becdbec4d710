"""Optional compiled speedups for Papyra.

Metadata lives in pyproject.toml; this file only decides which Cython extensions to build.

* ``papyra/_speedups/dispatch_py.py`` is compiled a second time, unchanged, as
  ``papyra._speedups.dispatch_c`` with the types of ``dispatch_c.pxd``.
* Every ``papyra/_speedups/*_c.pyx`` is compiled as it is.

A missing compiler, a missing Cython or a failing build produce a pure-Python install (with a
warning); ``PAPYRA_NO_EXTENSIONS=1`` skips the build altogether; ``PAPYRA_REQUIRE_EXTENSIONS=1``
turns every build failure into an error (CI, wheels, benchmarks).
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, ExecError, PlatformError

HERE = Path(__file__).resolve().parent
SPEEDUPS = HERE / "papyra" / "_speedups"
_OFF = ("", "0")
NO_EXTENSIONS = (
    os.environ.get("PAPYRA_NO_EXTENSIONS", "") not in _OFF
    or sys.implementation.name != "cpython"
)
REQUIRE_EXTENSIONS = os.environ.get("PAPYRA_REQUIRE_EXTENSIONS", "") not in _OFF
BUILD_ERRORS = (CCompilerError, ExecError, PlatformError, OSError)

# Compiled twins of pure-Python references: (reference module, compiled module name).
COMPILED_PY = [("dispatch_py", "dispatch_c")]


def _stage_compiled_py() -> list[str]:
    """Copy each ``*_py.py`` reference beside its ``.pxd`` under build/ with the twin's name.

    Cython pairs a ``.py`` with the ``.pxd`` of the same stem, and the copy must not sit in the
    package itself (a plain ``dispatch_c.py`` there would import as if compiled).
    """
    stage = HERE / "build" / "cython-src"
    pkg = stage / "papyra" / "_speedups"
    pkg.mkdir(parents=True, exist_ok=True)
    for init in (stage / "papyra" / "__init__.py", pkg / "__init__.py"):
        init.touch()
    sources = []
    for ref, twin in COMPILED_PY:
        shutil.copyfile(SPEEDUPS / f"{ref}.py", pkg / f"{twin}.py")
        shutil.copyfile(SPEEDUPS / f"{twin}.pxd", pkg / f"{twin}.pxd")
        sources.append(str((pkg / f"{twin}.py").relative_to(HERE)))
    return sources


def _extensions() -> list[object]:
    if NO_EXTENSIONS:
        return []
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError:
        if REQUIRE_EXTENSIONS:
            raise
        warnings.warn("Cython is not installed: building pure-Python Papyra.", stacklevel=1)
        return []
    exts = [
        Extension(f"papyra._speedups.{twin}", [src])
        for (_, twin), src in zip(COMPILED_PY, _stage_compiled_py())
    ]
    exts += [
        Extension(f"papyra._speedups.{pyx.stem}", [str(pyx.relative_to(HERE))])
        for pyx in sorted(SPEEDUPS.glob("*_c.pyx"))
    ]
    return list(
        cythonize(
            exts,
            compiler_directives={"language_level": "3", "annotation_typing": False},
            build_dir="build/cython-c",
            quiet=True,
        )
    )


class OptionalBuildExt(build_ext):
    """``build_ext`` that falls back to pure Python unless extensions are required."""

    def run(self) -> None:
        try:
            super().run()
        except BUILD_ERRORS as exc:
            self._fail(exc)

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except BUILD_ERRORS as exc:
            self._fail(exc, ext.name)

    @staticmethod
    def _fail(exc: BaseException, name: str = "speedups") -> None:
        if REQUIRE_EXTENSIONS:
            raise exc
        warnings.warn(f"Could not compile {name} ({exc}); Papyra will run in pure Python.",
                      stacklevel=1)


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
