"""``python -m papyra``: the ``papyra`` command line (the same as the ``papyra`` script)."""

from papyra.cli.app import app

if __name__ == "__main__":
    app()
