"""Implementation selection: one switch, all or nothing, reporting what actually loaded."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import REPO_ROOT

PROBE = (
    "from papyra import _accel; "
    "print(_accel.EXTENSIONS_ACTIVE, _accel.dispatch.__name__, _accel.ndjson.__name__)"
)


def _probe(value: str | None) -> tuple[bool, str, str]:
    env = dict(os.environ)
    env.pop("PAPYRA_NO_EXTENSIONS", None)
    if value is not None:
        env["PAPYRA_NO_EXTENSIONS"] = value
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
        check=True,
    ).stdout.split()
    return out[0] == "True", out[1], out[2]


@pytest.mark.parametrize("value", ["1", "yes", "true"])
def test_setting_the_variable_selects_the_pure_python_twins(value: str) -> None:
    active, dispatch, ndjson = _probe(value)
    assert not active
    assert (dispatch, ndjson) == ("papyra._speedups.dispatch_py", "papyra._speedups.ndjson_py")


@pytest.mark.speedups
@pytest.mark.parametrize("value", [None, "", "0"])
def test_empty_or_zero_means_extensions_on(value: str | None) -> None:
    active, dispatch, ndjson = _probe(value)
    assert active
    assert (dispatch, ndjson) == ("papyra._speedups.dispatch_c", "papyra._speedups.ndjson_c")


def test_flag_reports_what_loaded_in_this_process() -> None:
    from papyra import _accel

    expected = _accel.dispatch.__name__.endswith("_c")
    assert _accel.EXTENSIONS_ACTIVE is expected
    assert _accel.IMPLEMENTATION == ("cython" if expected else "python")  # noqa: SIM300 - an attribute, not a constant
