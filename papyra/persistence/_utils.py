"""Names kept for compatibility with code written against the original package layout.

New code should use :mod:`papyra.persistence._records` directly.
"""

from __future__ import annotations

from papyra.persistence._records import json_default as _json_default
from papyra.persistence._records import pick_fields as _pick_dataclass_fields

__all__ = ("_json_default", "_pick_dataclass_fields")
