"""The pytest plugin, as a user meets it: a test file of their own, run by pytest.

The example of docs/testing.md (examples/testing/test_reminders.py) runs in a fresh pytest
session whose only Papyra-specific setup is the plugin the installed entry point registers;
the tests below it use the fixtures directly.
"""

from __future__ import annotations

import pytest

from papyra.clock import ManualClock
from papyra.system import ActorSystem
from papyra.testing import TestKit
from tests.support import REPO_ROOT

pytest_plugins = ["pytester"]


def test_the_documented_example_passes_under_the_plugin(pytester: pytest.Pytester) -> None:
    source = (REPO_ROOT / "examples" / "testing" / "test_reminders.py").read_text()
    pytester.makepyfile(test_reminders=source)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=6)


def test_a_failing_expectation_reads_well_in_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        import pytest

        pytestmark = pytest.mark.anyio

        async def test_wrong(papyra_kit):
            probe = papyra_kit.probe("inbox")
            await probe.ref.tell("hello")
            await probe.expect("goodbye")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes().get("passed", 0) == 0
    result.stdout.fnmatch_lines(["*probe 'inbox': expected 'goodbye'; got 'hello'.*"])


pytestmark = pytest.mark.anyio


async def test_the_fixtures_fit_together(
    papyra_kit: TestKit, papyra_system: ActorSystem, papyra_clock: ManualClock
) -> None:
    assert papyra_kit.system is papyra_system and papyra_kit.clock is papyra_clock
    assert papyra_system.running and papyra_system.now() == 0.0
    await papyra_clock.advance(5)
    assert papyra_system.now() == 5.0
