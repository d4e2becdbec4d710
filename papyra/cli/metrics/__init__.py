"""``papyra metrics``: the command group is ``papyra.cli.metrics.app.metrics``."""

__all__ = ()
