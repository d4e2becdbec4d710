"""A griffe extension for the documentation site: Sphinx roles in docstrings become links.

Papyra's docstrings name other objects the reST way (``:class:`~papyra.exceptions.AskTimeout```,
``:meth:`advance```). mkdocstrings renders Markdown, where such a role would show up as its
raw text; this extension rewrites each one, before rendering, into an autorefs link
(``[`AskTimeout`][papyra.exceptions.AskTimeout]``) to the object it names, resolved the way
Sphinx does: a dotted path from the package, else a name looked up from the documented object
outwards (its members, its class's, its module's). A name that is not Papyra's (``int``, a
third-party class) or that is private (``papyra._lifecycle``: no page documents it) stays
code. A paragraph ending with reST's literal-block marker ``::`` ends with ``:`` instead. mkdocs.yml
loads it (``extensions:`` of the python handler).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:mod|func|class|meth|attr|exc|data|obj|const):`([^`]+)`")
PACKAGE = "papyra"


def _lookup(root: Any, path: str) -> Any | None:
    """The object at dotted ``path`` under package ``root`` (through aliases), or None."""
    parts = path.split(".")
    if parts[0] != root.name:
        return None
    obj = root
    for part in parts[1:]:
        try:
            if obj.is_alias:
                obj = obj.final_target
            obj = obj.members[part]
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
    return obj


def _public_homes(root: Any) -> dict[str, str]:
    """Canonical path of each object a reference page renders -> its anchor there.

    ``papyra.system`` renders ``STOP``, defined in the private ``papyra._envelope``: a role
    naming ``papyra._envelope.STOP`` links to ``papyra.system.STOP``.
    """
    spec = importlib.util.spec_from_file_location(
        "_papyra_reference_pages", Path(__file__).with_name("reference_pages.py")
    )
    assert spec is not None and spec.loader is not None
    pages = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(pages)
    homes: dict[str, str] = {}
    for page in pages.build_pages(root):
        module = root if page.module == root.name else root[page.module.partition(".")[2]]
        for name in page.rendered:
            member = module.members[name]
            try:
                homes.setdefault(str(member.canonical_path), f"{page.module}.{name}")
            except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                pass
    return homes


def _resolve(root: Any, scope: Any, target: str, homes: dict[str, str]) -> str | None:
    """The identifier that ``target`` (as written in ``scope``'s docstring) names, or None."""
    if target.startswith(PACKAGE + ".") or target == PACKAGE:
        candidates = [target]
    else:
        candidates = []
        node = scope
        while node is not None:
            candidates.append(f"{node.path}.{target.lstrip('.')}")
            node = node.parent
    for candidate in candidates:
        found = _lookup(root, candidate)
        if found is not None:
            try:
                path = str(found.canonical_path)
            except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                return None  # a name imported from outside the package
            # __init__ is documented with its class (merge_init_into_class).
            path = path.removesuffix(".__init__")
            # Private modules and names have no page, unless a public module re-exports the
            # name and its page renders it; else the role stays code.
            if any(part.startswith("_") for part in path.split(".")):
                for canonical, anchor in homes.items():
                    if path == canonical or path.startswith(canonical + "."):
                        return anchor + path[len(canonical):]
                return None
            return path
    return None


def _rewrite(root: Any, obj: Any, text: str, homes: dict[str, str]) -> str:
    def link(match: re.Match[str]) -> str:
        content = match.group(1)
        explicit = re.fullmatch(r"(.*?)\s*<([^>]+)>", content)
        if explicit:
            title, target = explicit.group(1), explicit.group(2)
        else:
            target = content
            title = content.lstrip("~.")
            if content.startswith("~"):
                title = title.rsplit(".", 1)[-1]
        target = target.lstrip("~")
        call = target.endswith("()")
        target = target.removesuffix("()")
        identifier = _resolve(root, obj, target, homes)
        if identifier is None:
            return f"`{title}`"
        if call and not title.endswith("()"):
            title += "()"
        return f"[`{title}`][{identifier}]"

    text = ROLE.sub(link, text)
    # reST's "text::" before an indented block reads "text:" (the block is indented, which
    # Markdown also takes for code); a "::" alone on its line disappears.
    text = re.sub(r"(?m)^\s*::\n(?=\n)", "", text)
    return re.sub(r"(?m)(\S)::\n(?=\n)", r"\1:\n", text)


def _walk(obj: Any) -> Any:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)


class SphinxRolesToLinks(griffe.Extension):
    """Rewrite the Sphinx roles of every docstring of the loaded package."""

    def on_package(self, *, pkg: Any, **kwargs: Any) -> None:
        if pkg.name != PACKAGE:
            return
        homes = _public_homes(pkg)
        for obj in _walk(pkg):
            if obj.docstring is not None and ":" in obj.docstring.value:
                obj.docstring.value = _rewrite(pkg, obj, obj.docstring.value, homes)
