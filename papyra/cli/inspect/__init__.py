"""``papyra inspect``: the command group is ``papyra.cli.inspect.app.inspect``."""

__all__ = ()
