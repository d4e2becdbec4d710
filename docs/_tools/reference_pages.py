"""Generate the Reference section of the documentation site (docs/reference/*.md).

One page per public module: a module whose dotted path has no part starting with ``_`` and
whose ``__all__`` is not empty. Each name of a page's ``__all__`` is either rendered on that
page by mkdocstrings or, when it is a re-export of a name another page renders, listed in a
table that links there. A re-export of a private module's name (``papyra.system.STOP`` comes
from ``papyra._envelope``) is rendered on the first public page that exports it, in the
order of :data:`SECTIONS`.

Run from the repository root after adding, removing or renaming a public module or name::

    .venv/bin/python docs/_tools/reference_pages.py

It rewrites docs/reference/ and prints the ``Reference`` entry of the mkdocs.yml nav.
tests/docs/test_site.py fails while the committed pages differ from what this produces.
Needs griffe (``pip install -e '.[docs]'``), which reads the sources without importing them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"

#: Nav sections of the Reference, in order; a module goes to the section with the longest
#: matching prefix. The order also picks the page that renders a name re-exported from a
#: private module.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Runtime", ("papyra",)),
    ("Persistence", ("papyra.persistence",)),
    ("Clusters", ("papyra.cluster",)),
    ("Web integrations", ("papyra.contrib",)),
    ("Command line", ("papyra.cli",)),
    ("Settings, logging, serializers", (
        "papyra.conf", "papyra.logging", "papyra.serializers", "papyra.utils",
        "papyra.protocols",
    )),
    ("Testing", ("papyra.testing",)),
    ("Observability", ("papyra.metrics", "papyra.tracing")),
)

#: These modules claim the names they re-export from private modules before the other modules
#: of their section do (the nav itself is alphabetical within a section).
FIRST: tuple[str, ...] = (
    "papyra.system",
    "papyra.actor",
    "papyra.context",
    "papyra.ref",
    "papyra.persistence.backends.redis",
    "papyra.contrib.asgi.lifecycle",
)


#: Pages whose classes also show the members they inherit: the web integrations share
#: ``install`` and ``lifespan`` with their (private) base class, documented there once.
INHERITED_MEMBERS: tuple[str, ...] = (
    "papyra.contrib.fastapi",
    "papyra.contrib.lilya",
    "papyra.contrib.ravyn",
    "papyra.contrib.starlette",
)


@dataclass
class Page:
    module: str
    section: str
    rendered: list[str] = field(default_factory=list)
    #: name -> (anchor identifier, module of the page that renders it)
    linked: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return f"{self.module}.md"

    def markdown(self) -> str:
        lines = [f"::: {self.module}", "    options:"]
        if self.rendered:
            lines.append("      members:")
            lines.extend(f"        - {name}" for name in self.rendered)
        else:
            lines.append("      members: false")
        if self.module in INHERITED_MEMBERS:
            lines.append("      inherited_members: true")
        if self.linked:
            lines += [
                "",
                "## Re-exported names",
                "",
                f"Importable from `{self.module}`; documented where they are defined.",
                "",
                "| Name | Documented in |",
                "|---|---|",
            ]
            for name, (anchor, home) in self.linked.items():
                lines.append(f"| [`{name}`][{anchor}] | [`{home}`]({home}.md) |")
        return "\n".join(lines) + "\n"


def _section(module: str) -> str:
    matches = [
        (len(prefix), title)
        for title, prefixes in SECTIONS
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    return max(matches)[1]


def _is_private(path: str) -> bool:
    return any(part.startswith("_") for part in path.split("."))


def _modules(obj: Any) -> list[Any]:
    out = [obj]
    for member in obj.modules.values():
        if not member.is_alias:
            out.extend(_modules(member))
    return out


def load_package() -> Any:
    """Papyra as griffe reads it from this checkout's sources."""
    import griffe

    return griffe.load(
        "papyra", search_paths=[str(ROOT)], resolve_aliases=True, resolve_external=False
    )


def build_pages(package: Any = None) -> list[Page]:
    """The pages, in nav order (``package``: a griffe package, else :func:`load_package`)."""
    if package is None:
        package = load_package()
    modules = {
        m.path: m
        for m in _modules(package)
        if not _is_private(m.path) and m.exports
    }
    section_rank = {title: i for i, (title, _) in enumerate(SECTIONS)}

    def order(path: str) -> tuple[int, int, str]:
        first = FIRST.index(path) if path in FIRST else len(FIRST)
        return (section_rank[_section(path)], first, path)

    homes: dict[str, str] = {}  # target path -> anchor identifier of its rendering
    pages: list[Page] = []
    ordered = sorted(modules, key=order)
    # Names a module defines itself are always rendered there.
    for path in ordered:
        for name in modules[path].exports:
            member = modules[path].members[name]
            if not member.is_alias:
                homes[member.path] = member.path
    for path in ordered:
        module = modules[path]
        page = Page(path, _section(path))
        for name in module.exports:
            member = module.members[name]
            target = member.final_target.path if member.is_alias else member.path
            anchor = f"{path}.{name}"
            if target in homes and homes[target] != anchor:
                home = homes[target]
                page.linked[name] = (home, home.rsplit(".", 1)[0])
            else:
                homes[target] = anchor
                page.rendered.append(name)
        pages.append(page)
    pages.sort(key=lambda page: (section_rank[page.section], page.module))
    return pages


def nav(pages: list[Page]) -> list[dict[str, Any]]:
    """The ``Reference`` entries of the mkdocs.yml nav (file paths relative to docs/)."""
    sections: dict[str, list[dict[str, str]]] = {}
    for page in pages:
        sections.setdefault(page.section, []).append(
            {page.module: f"reference/{page.filename}"}
        )
    return [{"Overview": "reference/index.md"}] + [
        {title: entries} for title, entries in sections.items()
    ]


def write(pages: list[Page]) -> None:
    for old in REFERENCE.glob("papyra*.md"):
        old.unlink()
    for page in pages:
        (REFERENCE / page.filename).write_text(page.markdown(), encoding="utf-8")


def _nav_yaml(entries: list[dict[str, Any]]) -> str:
    lines = ["  - Reference:"]
    for entry in entries:
        for title, value in entry.items():
            if isinstance(value, str):
                lines.append(f"      - {title}: {value}")
            else:
                lines.append(f"      - {title}:")
                for sub in value:
                    for name, file in sub.items():
                        lines.append(f"          - {name}: {file}")
    return "\n".join(lines)


if __name__ == "__main__":
    built = build_pages()
    write(built)
    sys.stdout.write(_nav_yaml(nav(built)) + "\n")
