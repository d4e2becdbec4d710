"""The pages around the site: the README's shape and links, the changelog page, the performance
page's plot and figures.

These read files only (the strict build is in test_site.py), except the first actor of the
README, which runs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
CHANGELOG = ROOT / "CHANGELOG.md"

#: Inline Markdown links and images: [text](target) / ![alt](target).
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _local_targets(text: str) -> list[str]:
    """The link targets of ``text`` that are files of the repository (no URL, no anchor-only)."""
    targets = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0])
    return targets


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8").splitlines()[:15]
    assert "make demo" in head, head
    assert "make test" in head, head
    assert head.index("make demo") < head.index("make test")


def test_readme_stays_short() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 70


def test_readme_links_resolve() -> None:
    targets = _local_targets(README.read_text(encoding="utf-8"))
    assert "docs/performance.md" in targets
    assert "CHANGELOG.md" in targets
    missing = [t for t in targets if not (ROOT / t).is_file()]
    assert missing == []


def test_readme_first_actor_runs() -> None:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1
    result = subprocess.run(
        [sys.executable, "-c", blocks[0]], capture_output=True, text=True, cwd=ROOT,
        timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "counter = 1\n"


def test_changelog_page_includes_changelog() -> None:
    page = (DOCS / "changelog.md").read_text(encoding="utf-8")
    assert page.strip() == '--8<-- "CHANGELOG.md"'
    text = CHANGELOG.read_text(encoding="utf-8")
    assert "## Unreleased" in text
    for group in ("### Added", "### Changed", "### Fixed", "### Deprecated"):
        assert group in text, group


def test_changelog_links_resolve_on_github_and_in_the_site() -> None:
    """CHANGELOG.md links docs/... from the top of the repository; the hook that shows it on
    docs/changelog.md makes them relative to docs/ (both must name the same existing page)."""
    targets = _local_targets(CHANGELOG.read_text(encoding="utf-8"))
    assert targets
    assert [t for t in targets if not (ROOT / t).is_file()] == []
    assert [t for t in targets if not t.startswith("docs/")] == []


def test_changelog_hook_rewrites_links() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_papyra_changelog_hook", DOCS / "_tools" / "changelog.py"
    )
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    rendered = hook.changelog_markdown()
    assert "](docs/" not in rendered
    assert "](runtime.md#" in rendered
    for target in _local_targets(rendered):
        assert (DOCS / target).is_file(), target


def test_performance_page_plot_and_results() -> None:
    page = (DOCS / "performance.md").read_text(encoding="utf-8")
    images = [t for t in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", page)]
    assert images, "the performance page starts with the plot"
    assert page.index("![") < page.index("\n## "), "the plot comes before the first section"
    for image in images:
        assert (DOCS / image).is_file(), image
    # The plot and the page come from one run with the ceilings in it.
    results = json.loads((ROOT / "benchmarks" / "peers" / "results.json").read_text())
    assert results["quick"] is False
    assert set(results["ceilings"]) <= set(results["peers"])
    assert results["ceilings"], "the run measured no ceiling"
    for workload, by_peer in results["results"].items():
        assert set(by_peer) == set(results["peers"]), workload
    assert results["generated"][:10] in page, "the page names the date of the run"
    # Reproducing it: the commands the page gives are the ones the Makefile runs.
    for command in ("make bench-peers", "benchmarks/peers/run.py", "benchmarks/plot.py"):
        assert command in page, command
