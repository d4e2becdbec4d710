"""``papyra doctor``: the command group is ``papyra.cli.doctor.app.doctor``."""

__all__ = ()
