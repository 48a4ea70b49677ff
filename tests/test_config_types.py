"""The README's snippets type-check against the package's own annotations (``py.typed``).

A user's editor and mypy read ``RiskWatchConfig``'s annotations: they must accept what the
docs show (lists where a sequence is meant), and still catch a typo. mypy runs here on each
python block of the README, strictly, with the project's mypy settings; the control is the
same first block with one keyword misspelt, which mypy must refuse.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)

pytest.importorskip("mypy")


def _mypy(tmp_path: Path, sources: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for name, code in sources.items():
        (tmp_path / name).write_text(code)
    env = {**os.environ, "MYPYPATH": str(ROOT)}  # this checkout's package, not an installed one
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            *sorted(sources),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_the_readme_snippets_type_check_and_a_typo_does_not(tmp_path):
    blocks = BLOCK.findall((ROOT / "README.md").read_text())
    assert blocks and "RiskWatchConfig(" in blocks[0]
    typo = blocks[0].replace("max_loss=", "max_los=", 1)
    assert typo != blocks[0]
    sources = {f"readme_{i}.py": block for i, block in enumerate(blocks)}
    sources["typo.py"] = typo
    out = _mypy(tmp_path, sources)
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert [e for e in errors if not e.startswith("typo.py")] == [], out.stdout
    # the control: mypy reads the real annotations (not Any), so the typo is caught
    assert any('Unexpected keyword argument "max_los"' in e for e in errors), out.stdout
