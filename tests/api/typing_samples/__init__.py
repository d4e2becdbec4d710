"""Sample files type-checked by tests/api/test_typing.py with ``mypy --strict``; never run."""
