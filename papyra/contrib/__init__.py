"""Optional integrations. Nothing here is imported by ``import papyra``.

* :mod:`papyra.contrib.asgi`: framework-agnostic ASGI endpoints (``healthz``, ``metrics``) and
  the ``papyra_lifecycle`` async context manager.
* :mod:`papyra.contrib.fastapi`, :mod:`~papyra.contrib.starlette`, :mod:`~papyra.contrib.lilya`,
  :mod:`~papyra.contrib.ravyn`: one helper per framework (install the matching extra,
  ``pip install papyra[fastapi]``...).
"""

__all__ = ()
