"""``papyra persistence``: the command group is ``papyra.cli.persistence.app.persistence``."""

__all__ = ()
