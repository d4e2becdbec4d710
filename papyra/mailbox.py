"""The actor mailbox (see :class:`Mailbox`); implemented by the selected dispatch twin."""

from __future__ import annotations

from papyra._accel import dispatch

Mailbox = dispatch.Mailbox

__all__ = ("Mailbox",)
