"""Bad input: one line on stderr, a documented non-zero exit, no traceback, no file changed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from .support import CORRUPT, PAPYRA_BIN, UnsupportedBackend, write_log

Invoke = Callable[..., Result]
UseBackend = Callable[[Any], Any]

PATH_COMMANDS = [
    ("persistence", "scan"),
    ("persistence", "recover"),
    ("persistence", "startup-check"),
    ("persistence", "compact"),
    ("persistence", "inspect"),
    ("doctor", "run"),
]


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(directory)): (
            p.read_bytes() if p.is_file() else b"",
            p.stat().st_mtime_ns,
        )
        for p in sorted(directory.rglob("*"))
    }


def assert_one_line_error(result: Result, code: int, *needles: str) -> None:
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr


@pytest.mark.parametrize("command", PATH_COMMANDS, ids=" ".join)
def test_path_is_a_directory(invoke: Invoke, tmp_path: Path, command: tuple[str, str]) -> None:
    target = tmp_path / "logs"
    target.mkdir()
    write_log(target / "ev.ndjson", CORRUPT)
    before = snapshot(tmp_path)
    result = invoke(*command, "--path", str(target))
    assert_one_line_error(result, 1, "is a directory")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", PATH_COMMANDS, ids=" ".join)
def test_path_in_missing_directory(
    invoke: Invoke, tmp_path: Path, command: tuple[str, str]
) -> None:
    result = invoke(*command, "--path", str(tmp_path / "nope" / "ev.ndjson"))
    assert_one_line_error(result, 1, "does not exist")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", PATH_COMMANDS, ids=" ".join)
def test_path_unreadable(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, str]
) -> None:
    # Tests may run as root, for whom chmod 000 changes nothing: deny through os.access instead
    # (test_unreadable_file_subprocess covers the real thing when not root).
    path = tmp_path / "ev.ndjson"
    write_log(path, CORRUPT)
    before = snapshot(tmp_path)
    real_access = os.access

    def access(p: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        if os.fspath(p) == str(path) and mode & os.R_OK:
            return False
        return real_access(p, mode, *args, **kwargs)

    monkeypatch.setattr("papyra.cli._backend.os.access", access)
    result = invoke(*command, "--path", str(path))
    assert_one_line_error(result, 1, "not readable")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "command", [("persistence", "recover"), ("persistence", "compact")], ids=" ".join
)
def test_path_not_writable_for_rewrites(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, str]
) -> None:
    path = tmp_path / "ev.ndjson"
    write_log(path, CORRUPT)
    before = snapshot(tmp_path)
    real_access = os.access

    def access(p: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        if os.fspath(p) == str(path) and mode & os.W_OK:
            return False
        return real_access(p, mode, *args, **kwargs)

    monkeypatch.setattr("papyra.cli._backend.os.access", access)
    assert_one_line_error(invoke(*command, "--path", str(path)), 1, "not writable")
    assert snapshot(tmp_path) == before
    # Read-only commands do not need write access.
    assert invoke("persistence", "scan", "--path", str(path)).exit_code == 2


def test_empty_path(invoke: Invoke) -> None:
    assert_one_line_error(invoke("persistence", "scan", "--path", ""), 1, "must not be empty")


def test_quarantine_dir_that_is_a_file(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    write_log(path, CORRUPT)
    (tmp_path / "qd").write_text("not a directory")
    before = snapshot(tmp_path)
    result = invoke(
        "persistence", "recover", "--path", str(path),
        "--mode", "quarantine", "--quarantine-dir", str(tmp_path / "qd"),
    )
    assert_one_line_error(result, 1, "quarantine directory")
    assert snapshot(tmp_path) == before


class DeniedBackend(UnsupportedBackend):
    async def scan(self) -> Any:
        raise PermissionError(13, "Permission denied", "/srv/papyra/events.ndjson")


def test_os_error_from_backend_is_one_line(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(DeniedBackend())
    for args in (("persistence", "scan"), ("doctor", "run")):
        assert_one_line_error(invoke(*args), 1, "Permission denied", "/srv/papyra/events.ndjson")


# -- settings -----------------------------------------------------------------------------------

SETTINGS_COMMANDS = [
    ("persistence", "scan"),
    ("persistence", "inspect"),
    ("doctor", "run"),
    ("inspect", "events"),
    ("inspect", "summary"),
    ("metrics", "persistence"),
    ("metrics", "reset"),
]


@pytest.mark.parametrize("command", SETTINGS_COMMANDS, ids=" ".join)
def test_settings_module_cannot_be_imported(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, command: tuple[str, str]
) -> None:
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", "no_such_pkg.settings.Prod")
    result = invoke(*command)
    assert_one_line_error(result, 1, "PAPYRA_SETTINGS_MODULE", "no_such_pkg")


def _settings_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: str) -> None:
    (tmp_path / f"{name}.py").write_text(body)
    monkeypatch.chdir(tmp_path)  # the CLI puts the current directory on sys.path for the import
    monkeypatch.delitem(sys.modules, name, raising=False)


@pytest.mark.parametrize(
    ("body", "target", "needle"),
    [
        ("raise RuntimeError('broken\\nsettings')\n", "Prod", "RuntimeError"),
        ("x = (\n", "Prod", "SyntaxError"),
        ("class Prod:\n    pass\n", "Prod", "Prod"),
        (
            "from papyra.conf.global_settings import Settings\nclass Prod(Settings):\n    pass\n",
            "",
            "Prod",
        ),
        (
            "from papyra.conf.global_settings import BaseSettings\n"
            "class Prod(BaseSettings):\n    pass\n",
            "Prod",
            "persistence",
        ),
    ],
    ids=["raises", "syntax-error", "not-settings", "names-a-module", "no-persistence"],
)
def test_broken_settings_modules(
    invoke: Invoke,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    body: str,
    target: str,
    needle: str,
) -> None:
    name = f"broken_settings_{abs(hash(body)) % 10**8}"
    _settings_module(tmp_path, monkeypatch, name, body)
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", f"{name}.{target}" if target else name)
    result = invoke("persistence", "inspect")
    assert_one_line_error(result, 1, needle)
    assert str(tmp_path) not in sys.path


# -- the real console script --------------------------------------------------------------------

needs_script = pytest.mark.skipif(
    PAPYRA_BIN is None, reason="console script not installed (pip install -e .)"
)


def run_papyra(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    assert PAPYRA_BIN is not None
    full_env = {k: v for k, v in os.environ.items() if k != "PAPYRA_SETTINGS_MODULE"}
    full_env.update(env or {})
    return subprocess.run(
        [PAPYRA_BIN, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@needs_script
@pytest.mark.parametrize(
    ("args", "env", "code"),
    [
        (("persistence", "compact", "--path", "."), {}, 1),
        (("persistence", "recover", "--path", "missing/ev.ndjson"), {}, 1),
        (("doctor", "run"), {"PAPYRA_SETTINGS_MODULE": "nowhere.Settings"}, 1),
        (("doctor", "run", "--mode", "sometimes", "--path", "ev.ndjson"), {}, 1),
        (("inspect", "events", "--limit", "ten"), {}, 2),
        (("inspect", "dead-letters", "--since", "noon"), {}, 2),
    ],
)
def test_bad_input_subprocess(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], code: int
) -> None:
    write_log(tmp_path / "ev.ndjson", CORRUPT)
    before = snapshot(tmp_path)
    proc = run_papyra(*args, cwd=tmp_path, env=env)
    assert proc.returncode == code, proc.stderr
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert snapshot(tmp_path) == before


@needs_script
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_subprocess(tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    write_log(path, CORRUPT)
    path.chmod(0)
    try:
        proc = run_papyra("persistence", "scan", "--path", str(path), cwd=tmp_path)
    finally:
        path.chmod(0o600)
    assert proc.returncode == 1
    assert "not readable" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_path_creates_no_quarantine_dir(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke(
        "persistence", "recover", "--path", str(tmp_path), "--mode", "quarantine",
        "--quarantine-dir", str(tmp_path / "qd"),
    )
    assert_one_line_error(result, 1, "is a directory")
    assert list(tmp_path.iterdir()) == []
