"""The NDJSON file engine behind ``JsonFilePersistence`` and ``RotatingFilePersistence``.

Layout (imports point down the list; nothing here imports a concrete backend)::

    backend.py   FileBackend: the async base (locks, metrics, reports, worker threads)
    rewrite.py   recover / compact: plan_keep, copy_lines, RangeCopier, write_chunks, install
    read.py      block tables, scan_file, read_records (backwards list_*), NdjsonTwin
    append.py    flock helpers, fsync_dir, AppendLog, GroupCommitter, FsyncMode
"""
