"""The C library's heap in a process that embeds images in a loop (altclip-index): held between
batches, handed back between a watcher's rounds. Both change the whole process, so programs call
them at their entry point or in their own loop, never the library; neither imports torch, so a
watcher with nothing to embed does not load it."""

from __future__ import annotations

import ctypes


def hold_freed_memory() -> bool:
    """Serve allocations under 64 MB from the heap and keep up to 512 MB of freed memory there,
    instead of returning it to the OS. An image batch of 8 through a ViT-L allocates 34 MB
    hidden activations in every layer, over glibc's 32 MB ceiling for reusing freed blocks, so
    each one is mapped and page-faulted anew: held, a Zen 3 ran 1.02 instead of 0.86 images/s
    in float32 and 1.63 instead of 1.23 in int8. Returns whether the C library took it (glibc
    does)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 64 << 20) and mallopt(m_trim_threshold, 512 << 20))


def give_back() -> None:
    """Hand the freed heap back to the system (glibc's malloc_trim): a long-running watcher's
    RSS otherwise climbed to its busiest round's and stayed there (hold_freed_memory keeps up
    to 512 MB of it for the next batch)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        pass
