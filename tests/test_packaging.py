"""What ships is what works: the built wheel, installed outside the repository, runs the
quick start; and the engine-free core imports without NautilusTrader."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_the_engine_free_parts_import_without_nautilus_trader():
    blocker = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "nautilus_trader" or name.startswith("nautilus_trader."):
                    raise ImportError(f"blocked: {name}")
        sys.meta_path.insert(0, Block())
        import nautilus_riskwatch.core, nautilus_riskwatch.looptime
        import nautilus_riskwatch.alerts, nautilus_riskwatch.metrics.server
        from nautilus_riskwatch import KillSwitch, watchdog, breaker
        assert not any(m.startswith("nautilus_trader") for m in sys.modules)
        try:
            from nautilus_riskwatch import RiskWatch
        except ImportError as error:
            print("adapter needs nautilus_trader:", error)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", blocker], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert "adapter needs nautilus_trader: blocked: nautilus_trader" in out.stdout


def test_the_wheel_installed_outside_the_repository_runs_the_quick_start(tmp_path):
    # build from a copy of the sources: pip builds in the tree, and a stale build/ from an
    # earlier build would slip files that no longer exist into the wheel
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "build", "dist", "out", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
    )
    [wheel] = dist.glob("nautilus_riskwatch-*.whl")
    # A fresh venv whose only other packages are the dependencies (nautilus_trader,
    # matplotlib) of this one, reached by a .pth line: its editable install of this
    # repository is NOT seen there (.pth files are read only in site directories).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    fresh_site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(fresh_site, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", fresh_site, wheel],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    shutil.copy(ROOT / "examples" / "backtest_quickstart.py", work)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    out = subprocess.run(
        [python, "backtest_quickstart.py"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "RISK-OFF: loss 1002.15 USD reached the ceiling 1000 USD" in out.stdout
    where = subprocess.run(
        [python, "-c", "import nautilus_riskwatch; print(nautilus_riskwatch.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert where.startswith(fresh_site), where
