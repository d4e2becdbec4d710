"""Typed actors and refs (issue 13 §5): ``mypy --strict`` on sample files pins what type-checks.

``tests/api/typing_samples/right_uses.py`` must check without a single error (``assert_type``
pins the inferred types: ``spawn(Counter)`` is ``ActorRef[Increment, int]``, ``ask`` returns
``int``, bare 0.3.0 actors and refs stay ``Any``). ``wrong_uses.py`` marks every line mypy must
reject with ``# E: <code>``; the test compares the reported (line, code) pairs with the marks,
and a few messages word for word. The samples are never run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

mypy_api = pytest.importorskip("mypy.api")

SAMPLES = Path(__file__).parent / "typing_samples"
RIGHT = SAMPLES / "right_uses.py"
WRONG = SAMPLES / "wrong_uses.py"

_ERROR = re.compile(
    r"^(?P<path>[^:]+):(?P<line>\d+): error: (?P<message>.*)  \[(?P<code>[a-z-]+)\]$"
)
_MARK = re.compile(r"#\s*E:\s*(?P<code>[a-z-]+)\s*$")


def _rel(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[int, str, str]]]:
    """Run ``mypy --strict`` once on both samples; the errors per file: (line, code, message)."""
    cache = tmp_path_factory.mktemp("mypy_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO_ROOT)  # the samples import tests.api.typing_samples.messages
        stdout, stderr, status = mypy_api.run(
            [
                "--config-file", "pyproject.toml",
                "--strict",
                "--cache-dir", str(cache),
                "--no-error-summary",
                "--no-pretty",
                "--show-error-codes",
                "--hide-error-context",
                _rel(RIGHT),
                _rel(WRONG),
            ]
        )
    assert status in (0, 1), f"mypy did not run: {stderr or stdout}"
    errors: dict[str, list[tuple[int, str, str]]] = {}
    for line in stdout.splitlines():
        m = _ERROR.match(line)
        if m:
            key = Path(m["path"]).as_posix()
            errors.setdefault(key, []).append((int(m["line"]), m["code"], m["message"]))
        else:
            assert ": note: " in line, f"unexpected mypy output line: {line!r}"
    return errors


def test_right_uses_type_check(mypy_errors: dict[str, list[tuple[int, str, str]]]) -> None:
    assert mypy_errors.get(_rel(RIGHT), []) == []
    unexpected = {path for path in mypy_errors if path not in (_rel(RIGHT), _rel(WRONG))}
    assert not unexpected, mypy_errors


def test_wrong_uses_are_rejected_exactly_where_marked(
    mypy_errors: dict[str, list[tuple[int, str, str]]],
) -> None:
    expected = set()
    for number, text in enumerate(WRONG.read_text().splitlines(), start=1):
        m = _MARK.search(text)
        if m:
            expected.add((number, m["code"]))
    assert len(expected) >= 9
    reported = {(line, code) for line, code, _ in mypy_errors.get(_rel(WRONG), [])}
    assert reported == expected


def _message_on(errors: list[tuple[int, str, str]], marker: str) -> str:
    number = next(
        n for n, text in enumerate(WRONG.read_text().splitlines(), start=1) if marker in text
    )
    (message,) = [msg for line, _, msg in errors if line == number]
    return message


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            'await ref.tell("x")',
            'Argument 1 to "tell" of "ActorRef" has incompatible type "str"; '
            'expected "Increment | _Stop"',
        ),
        (
            'await ref.ask("x")',
            'No overload variant of "ask" of "ActorRef" matches argument type "str"',
        ),
        (
            "text: str = await ref.ask(Increment())",
            'Incompatible types in assignment (expression has type "int", '
            'variable has type "str")',
        ),
        (
            "await reset(ref)",
            'Argument 1 to "reset" has incompatible type "ActorRef[Increment, int]"; '
            'expected "ActorRef[Reset, int]"',
        ),
        (
            "async def receive(self, message: Reset) -> int:",
            'Argument 1 of "receive" is incompatible with supertype "papyra.actor.Actor"; '
            'supertype defines the argument type as "Increment"',
        ),
    ],
)
def test_wrong_use_messages(
    mypy_errors: dict[str, list[tuple[int, str, str]]], marker: str, message: str
) -> None:
    assert _message_on(mypy_errors[_rel(WRONG)], marker) == message
