"""Built-in persistence backends: ``memory`` (the default), ``rotating``, and ``RetentionPolicy``.

Import each from its own module (``papyra.persistence.backends.memory`` ...), or the public names
from :mod:`papyra.persistence`.
"""

__all__ = ()
