"""The ``papyra`` command line (console script ``papyra = papyra.cli.app:app``).

Layout::

    app.py               the root group: --version, help, the four sub-groups
    persistence/app.py   persistence scan | recover | startup-check | compact | inspect
    doctor/app.py        doctor run (the start-up check, with an optional repair)
    inspect/app.py       inspect events | audits | dead-letters | summary
    metrics/app.py       metrics persistence | reset
    _base.py             group class (help without a sub-command, one-line errors), glyphs, JSON
    _backend.py          which backend a command uses (--path, --url or the settings): the
                         backend options, retention options, and the one place backends are built
    _follow.py           inspect events --follow: the file tail and the poller for any backend
    _progress.py         byte-driven progress bars for scan / recover / compact on a terminal

See ``docs/cli.md`` for every command, its output and its exit codes.
"""

__all__ = ()
