"""Both dispatch twins declare their attributes: a misspelt one fails loudly at run time.

The pure twin has ``__slots__``; the compiled twin is a cdef class typed by ``dispatch_c.pxd``.
Either way, assigning an attribute that is not declared raises ``AttributeError`` instead of
silently creating a flag nobody reads (mypy --strict catches the same typo statically).
"""

from __future__ import annotations

from typing import Any

import pytest

from papyra.address import ActorAddress
from papyra.supervision import SupervisionPolicy


def make_cell(impl: Any) -> Any:
    mailbox = impl.dispatch.Mailbox(4)
    return impl.dispatch.ActorCell(
        None, 1, ActorAddress("local", 1), None, object, mailbox, SupervisionPolicy(), None
    )


def test_mailbox_rejects_an_undeclared_attribute(impl: Any) -> None:
    mailbox = impl.dispatch.Mailbox(4)
    with pytest.raises(AttributeError):
        mailbox.capacty = 8


@pytest.mark.parametrize("name", ["stoping", "system", "acepting", "__dict__"])
def test_cell_rejects_an_undeclared_attribute(impl: Any, name: str) -> None:
    cell = make_cell(impl)
    with pytest.raises(AttributeError):
        setattr(cell, name, True)


def test_cell_flags_are_writable_in_both_twins(impl: Any) -> None:
    cell = make_cell(impl)
    for flag in ("alive", "stopping", "restarting", "abort", "accepting", "terminated"):
        setattr(cell, flag, True)
        assert getattr(cell, flag) is True
    cell.children = [2]
    cell.watchers = {3}
    cell.actor = "instance"
    assert (cell.children, cell.watchers, cell.actor) == ([2], {3}, "instance")


def test_the_cell_names_its_host_and_nothing_else(impl: Any) -> None:
    cell = make_cell(impl)
    assert cell.host is None
    assert not hasattr(cell, "system")
