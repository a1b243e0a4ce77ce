"""altclip_core.memory: the heap held between an indexer's batches, handed back between a
watcher's rounds. Both change the process, so they run in a child, as altclip-index calls them."""

from __future__ import annotations

import platform
import subprocess
import sys


def test_programs_can_hold_freed_memory_and_hand_it_back_on_glibc():
    code = (
        "from altclip_core import memory; held = memory.hold_freed_memory(); "
        "memory.give_back(); print(held)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(platform.libc_ver()[0] == "glibc")
