"""Processes that must not outlive their parent."""

from __future__ import annotations

import ctypes
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(death_signal: int) -> None:
    """Ask the kernel to send ``death_signal`` to this process when its parent dies, even by kill -9.

    Linux only (a no-op elsewhere); setuid clears it, so call it after dropping privileges.
    """
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, death_signal)
