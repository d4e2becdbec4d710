"""``papyra cluster``: the command group is ``papyra.cli.cluster.app.cluster``."""

__all__ = ()
