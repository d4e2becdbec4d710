"""Optional compiled speedups for Papyra.

Metadata lives in pyproject.toml; this file only decides which Cython extensions to build.

* ``papyra/_speedups/dispatch_py.py`` is compiled a second time, unchanged, as
  ``papyra._speedups.dispatch_c``: Cython applies the types of ``dispatch_c.pxd``, the
  ``.pxd`` of the module name it is given.
* Every ``papyra/_speedups/*_c.pyx`` is compiled as it is.

A missing compiler, a missing Cython or a failing build produce a pure-Python install (with a
warning); ``PAPYRA_NO_EXTENSIONS=1`` skips the build altogether; ``PAPYRA_REQUIRE_EXTENSIONS=1``
turns every build failure into an error (CI, wheels, benchmarks).
"""

from __future__ import annotations

import os
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

# Compiled twins of pure-Python references: (reference module, compiled module name). Given
# the twin's module name, Cython pairs the reference with papyra/_speedups/<twin>.pxd.
COMPILED_PY = [("dispatch_py", "dispatch_c")]
CYTHON_BUILD_DIR = "build/cython-c"
DIRECTIVES = {"language_level": "3", "annotation_typing": False}


def _pxd_changed(ref: str, twin: str) -> bool:
    """Whether ``<twin>.pxd`` is newer than the C file generated from ``<ref>.py``.

    Cython finds a ``.py``'s own ``.pxd`` by the source's file name when it decides what is up
    to date, so it would not regenerate the twin after an edit to the ``.pxd`` alone.
    """
    c_file = HERE / CYTHON_BUILD_DIR / "papyra" / "_speedups" / f"{ref}.c"
    pxd = SPEEDUPS / f"{twin}.pxd"
    return c_file.exists() and pxd.stat().st_mtime > c_file.stat().st_mtime


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
    twins = [
        Extension(f"papyra._speedups.{twin}", [f"papyra/_speedups/{ref}.py"])
        for ref, twin in COMPILED_PY
    ]
    pyx = [
        Extension(f"papyra._speedups.{path.stem}", [str(path.relative_to(HERE))])
        for path in sorted(SPEEDUPS.glob("*_c.pyx"))
    ]
    options = {"compiler_directives": DIRECTIVES, "build_dir": CYTHON_BUILD_DIR, "quiet": True}
    force = any(_pxd_changed(ref, twin) for ref, twin in COMPILED_PY)
    return [*cythonize(twins, force=force, **options), *cythonize(pyx, **options)]


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
