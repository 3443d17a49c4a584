"""Process-wide memory allocator settings, applied once by the command-line entry point.

Why: torch frees every intermediate feature map after each layer, and a frame, its labels and
its composed copy are 1-3 MB each. glibc's malloc hands blocks of that size back to the kernel
as soon as they are freed (``mmap``/``munmap``, or trimming the top of a heap), so the next
frame page-faults the same memory in again and the kernel zeroes it. On 2 CPU cores that was
5,000-9,000 page faults and 25-33 ms of kernel time per frame in ``bench``. Keeping freed blocks
in the process cut it to 125-250 faults and 5-9 ms: the bench pipeline 1.13-1.25x, ``process``
1.05x (BENCHMARKS.md). Memory then stays at the working set's peak instead of going up and down.
"""

from __future__ import annotations

import ctypes
import os
import platform

# glibc's mallopt() parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

# Blocks below this come from the heap and are reused; 32 MiB is glibc's largest allowed value
# (a 1080p BGR frame is 6 MiB; ESPNetv2's largest tensor at the default size is 5.5 MiB).
MMAP_THRESHOLD = 32 * 2**20
# Free memory kept at the top of a heap before glibc returns it to the kernel: a few frames'
# worth. 64 MiB and 512 MiB measured the same (faults, speed and RSS).
TRIM_THRESHOLD = 64 * 2**20

_ENV_OVERRIDES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_freed_memory() -> bool:
    """Tells glibc's malloc to keep freed blocks for reuse. True when the settings took effect.

    A no-op (False) off glibc (Windows, macOS, musl) and when the user has set glibc's own
    ``MALLOC_*`` variables, which win.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(name in os.environ for name in _ENV_OVERRIDES):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
