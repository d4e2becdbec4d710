"""The actor mailboxes (see :class:`Mailbox`, :class:`PriorityMailbox`); implemented by the
selected dispatch twin."""

from __future__ import annotations

from papyra._accel import dispatch

Mailbox = dispatch.Mailbox
PriorityMailbox = dispatch.PriorityMailbox

__all__ = ("Mailbox", "PriorityMailbox")
