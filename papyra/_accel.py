"""The one place that decides between the compiled twins and the pure-Python references.

The decision is taken once, at import, all or nothing:

* ``PAPYRA_NO_EXTENSIONS`` set to anything but ``""`` or ``"0"`` selects the ``_py`` references;
* so does any interpreter other than CPython, or a compiled module that fails to import
  (a pure-Python install built without a compiler);
* otherwise the ``_c`` twins are used.

:data:`EXTENSIONS_ACTIVE` reports what actually loaded, not what was asked for.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

_OFF = ("", "0")
NO_EXTENSIONS: bool = (
    os.environ.get("PAPYRA_NO_EXTENSIONS", "") not in _OFF
    or sys.implementation.name != "cpython"
)
EXTENSIONS_ACTIVE: bool = False

if TYPE_CHECKING or NO_EXTENSIONS:
    from papyra._speedups import dispatch_py as dispatch
    from papyra._speedups import ndjson_py as ndjson
    from papyra._speedups import resp_py as resp
else:
    try:
        # All or nothing: one flag, so only two combinations ever run.
        from papyra._speedups import dispatch_c as dispatch
        from papyra._speedups import ndjson_c as ndjson
        from papyra._speedups import resp_c as resp
    except ImportError:
        from papyra._speedups import dispatch_py as dispatch
        from papyra._speedups import ndjson_py as ndjson
        from papyra._speedups import resp_py as resp
    else:
        EXTENSIONS_ACTIVE = True

IMPLEMENTATION: str = "cython" if EXTENSIONS_ACTIVE else "python"

__all__ = (
    "EXTENSIONS_ACTIVE", "IMPLEMENTATION", "NO_EXTENSIONS", "dispatch", "ndjson", "resp",
)
