"""Deterministic instruction counts for a part of a run, under valgrind's callgrind.

Why: the project's machine is shared (two cores, other test runs), so wall times move by
tens of percent between runs of the same code. The number of instructions a stretch of
code executes does not: under ``valgrind --tool=callgrind --instr-atstart=no`` nothing is
counted until ``start()``, and ``stop()`` ends the count, so a worker counts exactly its
``engine.run()``. Instructions are not nanoseconds (a cache miss costs no instruction), so
the benchmarks print both, side by side.

``start``/``stop`` are callgrind's client requests, compiled once into a tiny shared object
(needs ``gcc`` and valgrind's headers; ``available()`` says whether they are there).
Outside valgrind they do nothing.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_SOURCE = r"""
#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void cg_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
"""
_HEADER = Path("/usr/include/valgrind/callgrind.h")
_lib: ctypes.CDLL | None = None


def available() -> str | None:
    """``None`` if instruction counts can be taken here, else what is missing."""
    if shutil.which("valgrind") is None:
        return "valgrind is not installed"
    if shutil.which("gcc") is None or not _HEADER.exists():
        return "gcc or valgrind's headers (valgrind/callgrind.h) are missing"
    return None


def _library() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        target = Path(tempfile.gettempdir()) / f"riskwatch-cg-{os.getuid()}.so"
        if not target.exists():
            with tempfile.TemporaryDirectory() as tmp:
                source = Path(tmp) / "cg.c"
                source.write_text(_SOURCE)
                built = Path(tmp) / "cg.so"
                subprocess.run(
                    ["gcc", "-O2", "-shared", "-fPIC", "-o", str(built), str(source)], check=True
                )
                shutil.move(built, target)
        _lib = ctypes.CDLL(str(target))
    return _lib


def start() -> None:
    """Zero the counters and start counting (only under callgrind)."""
    if os.environ.get("RISKWATCH_CALLGRIND"):
        _library().cg_start()


def stop() -> None:
    if os.environ.get("RISKWATCH_CALLGRIND"):
        _library().cg_stop()


def command(out_file: str) -> list[str]:
    """The prefix that runs a worker under callgrind, counting nothing until ``start()``."""
    _library()  # built before the worker needs it
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_file}",
        sys.executable,  # the interpreter itself (a launcher script would hide it)
    ]


def instructions(out_file: str) -> int:
    """The instructions counted between ``start()`` and ``stop()``."""
    text = Path(out_file).read_text()
    match = re.search(r"^totals:\s+(\d+)", text, re.M)
    if match is None:
        raise RuntimeError(f"no instruction total in {out_file}")
    return int(match.group(1))
