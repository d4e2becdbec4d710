"""An mkdocs hook: the changelog page (docs/changelog.md) shows the top-level CHANGELOG.md.

docs/changelog.md holds one line, ``--8<-- "CHANGELOG.md"`` (the marker of pymdownx.snippets).
This hook puts the file there before the page is rendered, with its links into the site
rewritten: CHANGELOG.md sits at the top of the repository, so it links ``docs/runtime.md``
(which GitHub follows), and from docs/changelog.md the same page is ``runtime.md``. The strict
build then checks every link as on any other page. mkdocs.yml loads it (``hooks:``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PAGE = "changelog.md"
MARKER = '--8<-- "CHANGELOG.md"'
#: A Markdown link target that starts with docs/ (inline links only: the changelog uses no others).
DOCS_LINK = re.compile(r"\]\(docs/")


def changelog_markdown() -> str:
    """CHANGELOG.md with its ``docs/`` links made relative to docs/."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    return DOCS_LINK.sub("](", text)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"docs/{PAGE} must contain {MARKER}")
    return markdown.replace(MARKER, changelog_markdown())
