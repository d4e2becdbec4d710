"""The documentation site: every public module has a reference page, every public name is on
one, and the strict build passes.

Public modules and their ``__all__`` are read here with ``ast``, independently of the page
generator (docs/_tools/reference_pages.py), so that a generator bug cannot hide a missing name.
"""

from __future__ import annotations

import ast
import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

try:
    import griffe  # noqa: F401
    import mkdocs  # noqa: F401
    import yaml  # type: ignore[import-untyped, unused-ignore]
except ImportError:
    pytest.skip("pip install -e '.[docs]'", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"


def _load_generator() -> Any:
    """docs/_tools/reference_pages.py (the docs' build tools are no package)."""
    spec = importlib.util.spec_from_file_location(
        "_papyra_reference_pages", DOCS / "_tools" / "reference_pages.py"
    )
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


build_pages = _load_generator().build_pages


def _public_modules() -> dict[str, tuple[str, ...]]:
    """Dotted path -> ``__all__`` of every public module of papyra with a non-empty one."""
    found: dict[str, tuple[str, ...]] = {}
    for path in sorted((ROOT / "papyra").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(part.startswith("_") for part in parts):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            ) or (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and node.target.id == "__all__"
            ):
                assert node.value is not None
                names = tuple(ast.literal_eval(node.value))
                if names:
                    found[".".join(parts)] = names
    return found


def _nav_files(entries: object) -> list[str]:
    if isinstance(entries, str):
        return [entries]
    if isinstance(entries, list):
        return [f for entry in entries for f in _nav_files(entry)]
    if isinstance(entries, dict):
        return [f for value in entries.values() for f in _nav_files(value)]
    return []


def _page_names(text: str) -> tuple[list[str], list[str]]:
    """The names a reference page renders (``members:``) and those it links (its table)."""
    rendered = re.findall(r"(?m)^        - (\S+)$", text)
    linked = re.findall(r"(?m)^\| \[`([^`]+)`\]\[", text)
    return rendered, linked


def test_every_public_module_has_a_page_in_the_nav() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    files = _nav_files(config["nav"])
    for file in files:
        assert (DOCS / file).is_file(), f"mkdocs.yml nav names a missing page: {file}"
    pages = {f.removeprefix("reference/").removesuffix(".md") for f in files}
    missing = sorted(set(_public_modules()) - pages)
    assert not missing, f"public modules without a reference page in the nav: {missing}"
    # Every other page of docs/ is in the nav too (mkdocs only reports them at INFO level).
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert sorted(on_disk - set(files)) == []


def test_every_exported_name_is_on_its_module_page() -> None:
    for module, names in _public_modules().items():
        page = REFERENCE / f"{module}.md"
        rendered, linked = _page_names(page.read_text(encoding="utf-8"))
        assert sorted(rendered + linked) == sorted(names), module


def test_pages_match_the_generator() -> None:
    for page in build_pages():
        committed = (REFERENCE / page.filename).read_text(encoding="utf-8")
        assert committed == page.markdown(), (
            f"docs/reference/{page.filename} is stale: run "
            "`.venv/bin/python docs/_tools/reference_pages.py`"
        )


def test_strict_build_and_every_name_resolves(tmp_path: Path) -> None:
    """The strict build passes (about 6 s) and every exported name has an anchor or a link
    to one."""
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    anchors: set[str] = set()
    built: dict[str, str] = {}
    for module in _public_modules():
        text = (site / "reference" / module / "index.html").read_text(encoding="utf-8")
        built[module] = text
        anchors.update(re.findall(r'id="(papyra[\w.]*)"', text))
    for module in built:
        rendered, linked = _page_names((REFERENCE / f"{module}.md").read_text("utf-8"))
        for name in rendered:
            assert f"{module}.{name}" in anchors, f"{module}.{name} is not rendered"
        for name in linked:
            # autorefs turned the link into an href to an anchor of another page.
            hrefs = re.findall(
                rf'<a[^>]*href="([^"]*)"[^>]*><code>{re.escape(html.escape(name))}</code>',
                built[module],
            )
            assert any(h.split("#")[-1] in anchors for h in hrefs), f"{module}.{name}"
