"""What ships is what works: the built wheel, installed outside the repository, runs the
quick start; and the engine-free core imports without NautilusTrader."""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

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
        from nautilus_riskwatch import RiskOff, Trip, read_event_log, RiskWatchConfigError
        from nautilus_riskwatch.core import KillSwitch, watchdog, breaker
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


def test_without_the_alerts_and_metrics_extras_their_fields_are_refused_naming_them():
    blocker = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("apprise", "prometheus_client"):
                    raise ImportError(f"blocked: {name}")
        sys.meta_path.insert(0, Block())
        from nautilus_riskwatch import RiskWatchConfig, RiskWatchConfigError
        RiskWatchConfig(max_loss="1000 USD", warn_at=[0.5, 0.8])  # warnings need neither
        for field, more in (("metrics_port", {"metrics_port": 9100}),
                            ("alerts", {"alerts": ["json://127.0.0.1:9/x"]})):
            try:
                RiskWatchConfig(max_loss="1000 USD", **more)
            except RiskWatchConfigError as error:
                print(error.field, "|", error)
        assert not any(m.split(".")[0] in ("apprise", "prometheus_client") for m in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", blocker], capture_output=True, text=True, cwd=ROOT, check=True
    )
    lines = out.stdout.splitlines()
    assert lines[0].startswith("metrics_port | ") and "[metrics]" in lines[0]
    assert lines[1].startswith("alerts | ") and "[alerts]" in lines[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the sources: pip builds in the tree, and a stale
    build/ from an earlier build would slip files that no longer exist into the wheel."""
    tmp_path = tmp_path_factory.mktemp("wheel")
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
    [built] = dist.glob("nautilus_riskwatch-*.whl")
    return built


def test_the_wheel_ships_the_licence_and_the_console_script(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [info] = {n.split("/")[0] for n in names if ".dist-info/" in n}
        licences = {n.rsplit("/", 1)[1]: n for n in names if n.startswith(info + "/licen")}
        assert set(licences) >= {"LICENSE", "COPYING"}, names
        text = archive.read(licences["LICENSE"]).decode()
        assert text == (ROOT / "LICENSE").read_text()
        assert "GNU LESSER GENERAL PUBLIC LICENSE" in text and "Version 3" in text
        metadata = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert "License: LGPL-3.0-or-later" in metadata or "LGPL-3.0-or-later" in metadata
    assert "riskwatch = nautilus_riskwatch.__main__:main" in entry_points


def test_the_wheel_long_description_has_no_relative_links(wheel):
    # PyPI (and pip show) render the README without the repository beside it: a link to
    # docs/... would lead nowhere there
    with zipfile.ZipFile(wheel) as archive:
        [info] = {n.split("/")[0] for n in archive.namelist() if ".dist-info/" in n}
        metadata = archive.read(f"{info}/METADATA").decode()
    description = metadata.split("\n\n", 1)[1]
    assert description.startswith("# nautilus-riskwatch")
    targets = re.findall(r"\]\(([^)\s]+)\)", description)
    targets += re.findall(r"""href=["']([^"']+)""", description)
    assert targets, "expected at least the NautilusTrader link"
    relative = [t for t in targets if not t.startswith(("https://", "http://", "#"))]
    assert relative == []


def test_the_wheel_installed_outside_the_repository_runs_the_quick_start(tmp_path, wheel):
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
    # the README's first snippet is self-contained: it runs as written from the wheel
    snippet = _readme_block("## A first guarded backtest", "python")
    out = subprocess.run(
        [python, "-c", snippet], cwd=work, capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("RISK-OFF: loss 1002.15 USD reached the ceiling 1000 USD\n")
    version = subprocess.run(
        [python, "-m", "nautilus_riskwatch", "--version"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert version.stdout.strip() == f"nautilus-riskwatch {_version()}"
    # the wheel's file name is the one the README's install command names
    assert f"./dist/{wheel.name}[" in _readme_block("## Install", "bash")


def test_the_readme_opens_with_the_two_commands_of_a_fresh_clone():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert lines[:3] == ["# nautilus-riskwatch", "", "```bash"]
    commands = [line.split("#")[0].strip() for line in lines[3:5]]
    assert commands == ["bash dev.sh demo", "bash dev.sh test"]
    assert lines[5] == "```"


def test_the_readme_installs_only_in_ways_that_work_before_the_package_index():
    install = _readme_block("## Install", "bash")
    commands = [line for line in install.splitlines() if line.startswith("pip install")]
    assert len(commands) == 3
    for command in commands:
        target = command.removeprefix("pip install ").strip("'")
        # a clone ('.'), a wheel path, or pip's direct reference to the repository
        assert target.startswith(("./", ".[")) or " @ git+" in target, command
    readme = (ROOT / "README.md").read_text()
    assert "not on the Python package index yet" in readme
    assert not re.search(r"pip install '?nautilus-riskwatch(\[\w+\])?'?\s*($|#)", readme, re.M)


def test_the_changelog_has_the_version_being_built():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(_version())}\b", changelog, re.M), _version()


def _version() -> str:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _readme_block(section: str, language: str) -> str:
    """The first ```language block of the README's ``section``."""
    text = (ROOT / "README.md").read_text()
    after = text.split(f"\n{section}\n", 1)[1]
    return after.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def test_the_readme_lists_every_data_file_the_tests_read_outside_the_clone():
    # a lone clone skips the tests that need ../shared/data: the README says which files
    # those are and where they come from, so the list must follow tests/market.py
    import market

    needed = {
        value.name
        for item in vars(market).values()
        for value in (item.values() if isinstance(item, dict) else [item])
        if isinstance(value, Path) and value.parent == market.DATA
    }
    assert len(needed) == 6, needed
    section = (ROOT / "README.md").read_text().split("### Test data", 1)[1].split("\n## ", 1)[0]
    assert [name for name in sorted(needed) if f"`{name}`" not in section] == []
    assert "../shared/data" in section
