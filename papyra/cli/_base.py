"""What every ``papyra`` command shares: the group class, errors, status lines and JSON output.

Status lines go to stdout with a glyph (``ℹ`` info, ``✔`` success, ``✖`` error), coloured only
on a terminal (``click.echo`` strips the colour elsewhere) and never wrapped. Errors about the
invocation itself (bad option values, an unusable ``--path``, settings that cannot be loaded)
are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json  # display only (indented documents for people and scripts); records use _serial
import math
import sys
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from pathlib import PurePath
from typing import IO, TYPE_CHECKING, Any, NoReturn, TypeVar

import anyio
import click

__all__ = (
    "COUNT",
    "POSITIVE_INT",
    "POSITIVE_SECONDS",
    "ConfigError",
    "PapyraGroup",
    "anomaly_headline",
    "anomaly_line",
    "anomaly_to_json",
    "echo_json",
    "error",
    "fail",
    "info",
    "jsonable",
    "run_async",
    "success",
)

T = TypeVar("T")

#: Exit code of invalid configuration: bad option values, unusable paths, broken settings.
EXIT_CONFIG = 1


class ConfigError(click.ClickException):
    """Invalid configuration or input: ``message`` alone on stderr, exit code 1.

    The CLI's form of 0.3.0's ``SystemExit("<message>")``; newlines in the message are folded so
    the error stays on one line.
    """

    exit_code = EXIT_CONFIG

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.format_message(), file=file, err=file is None)


def fail(message: str) -> NoReturn:
    """Stop the command with a :class:`ConfigError`."""
    raise ConfigError(message)


_NO_WRAP = 100_000


class PapyraGroup(click.Group):
    """A click group that prints its help when invoked without a sub-command (exit 0).

    Click 8.2+ exits 2 in that case; 0.3.0 (and its tests) exit 0. Help text is not wrapped
    to the terminal width (0.3.0's rich console wrapped everything). Usage errors (unknown
    option, ``--limit abc``) are reported as one line on stderr, exit 2, instead of click's
    three-line usage block.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("invoke_without_command", True)
        kwargs.setdefault("no_args_is_help", False)
        # Help is never wrapped or truncated to the terminal width (sub-commands inherit this).
        settings = dict(kwargs.get("context_settings") or {})
        settings.setdefault("terminal_width", _NO_WRAP)
        settings.setdefault("max_content_width", _NO_WRAP)
        kwargs["context_settings"] = settings
        super().__init__(*args, **kwargs)
        callback = self.callback

        @functools.wraps(callback or _nothing)
        def run_then_help(*cb_args: Any, **cb_kwargs: Any) -> Any:
            rv = callback(*cb_args, **cb_kwargs) if callback is not None else None
            ctx = click.get_current_context()
            if ctx.invoked_subcommand is None:
                click.echo(ctx.get_help())
                ctx.exit(0)
            return rv

        self.callback = run_then_help

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            click.echo(_usage_line(exc), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) and not isinstance(rv, bool) else 0)


def _nothing() -> None:
    """Stand-in callback of a group defined without one."""


def _usage_line(exc: click.UsageError) -> str:
    line = f"Error: {' '.join(exc.format_message().split())}"
    ctx = exc.ctx
    if ctx is not None:
        line += f" (see '{ctx.command_path} --help')"
    return line


if TYPE_CHECKING:
    _IntParam = click.ParamType[int]
    _FloatParam = click.ParamType[float]
else:  # click < 8.2 has no generic ParamType
    _IntParam = click.ParamType
    _FloatParam = click.ParamType


class _Integer(_IntParam):
    """An integer of at least ``minimum``; anything else is a usage error."""

    name = "integer"

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a valid integer.", param, ctx)
        if number < self.minimum:
            problem = "negative" if number < 0 else "not positive"
            self.fail(f"{value!r} is {problem}; give {self.minimum} or more.", param, ctx)
        return number


#: Type of ``--limit`` options: an integer >= 0.
COUNT = _Integer(0)


class _PositiveSeconds(_FloatParam):
    """A finite number of seconds above 0 (``--max-age``, ``--interval``)."""

    name = "seconds"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number of seconds.", param, ctx)
        if not math.isfinite(number) or number <= 0:
            self.fail(f"{value!r} is not a positive number of seconds.", param, ctx)
        return number


#: Type of ``--max-records`` / ``--max-bytes``: an integer > 0.
POSITIVE_INT = _Integer(1)
#: Type of ``--max-age`` / ``--interval``: finite seconds > 0.
POSITIVE_SECONDS = _PositiveSeconds()


def run_async(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run one command body on a fresh event loop (``anyio.run``, asyncio)."""
    return anyio.run(partial(fn, *args))


# -- status lines -------------------------------------------------------------------------------


def _emit(glyph: str, colour: str, message: str) -> None:
    click.echo(f"{click.style(glyph, fg=colour)} {message}")


def info(message: str) -> None:
    """``ℹ <message>`` on stdout."""
    _emit("ℹ", "blue", message)


def success(message: str) -> None:
    """``✔ <message>`` on stdout."""
    _emit("✔", "green", message)


def error(message: str) -> None:
    """``✖ <message>`` on stdout (a finding, not a failure of the command itself)."""
    _emit("✖", "red", message)


def anomaly_line(anomaly: Any) -> str:
    """``- <TYPE_NAME>: <path> (<detail>)``, as ``persistence scan`` and ``doctor run`` print it."""
    kind = getattr(anomaly, "type", None)
    name = getattr(kind, "name", kind)
    return f"- {name}: {getattr(anomaly, 'path', None)} ({getattr(anomaly, 'detail', None)})"


def anomaly_headline(anomaly: Any) -> str:
    """``<TYPE>  <path>[:<line>]  <detail>``: :meth:`PersistenceAnomaly.headline`, or the same
    three parts of another anomaly-like object."""
    headline = getattr(anomaly, "headline", None)
    if callable(headline):
        return str(headline())
    kind = getattr(anomaly, "type", None)
    name = getattr(kind, "name", kind)
    return f"{name}  {getattr(anomaly, 'path', None)}  {getattr(anomaly, 'detail', None) or '-'}"


# -- JSON output ----------------------------------------------------------------------------------


def anomaly_to_json(anomaly: Any) -> dict[str, Any]:
    kind = getattr(anomaly, "type", None)
    return {
        "type": getattr(kind, "name", None if kind is None else str(kind)),
        "path": getattr(anomaly, "path", None),
        "detail": getattr(anomaly, "detail", None),
    }


def jsonable(obj: Any, _depth: int = 0) -> Any:
    """``obj`` as plain JSON values: dataclasses and mappings become objects, sequences arrays,
    enum members their value, non-finite floats ``null``, anything else its ``str``."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if _depth > 100:
        return str(obj)
    depth = _depth + 1
    if isinstance(obj, enum.Enum):
        return jsonable(obj.value, depth)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name), depth) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v, depth) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v, depth) for v in obj]
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj).decode("utf-8", "replace")
    return str(obj)


def echo_json(document: Any) -> None:
    """Print one indented JSON document (no glyph) on stdout."""
    click.echo(json.dumps(jsonable(document), indent=2, ensure_ascii=False))
