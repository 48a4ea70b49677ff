"""``riskwatch``: a real command line. Help and version exit 0, every failure exits non-zero
with one line that says what to do, never a traceback; the firm's extra is not needed for
the help or the post-mortem."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest

from nautilus_riskwatch.__main__ import COMMANDS, main

ROOT = Path(__file__).parent.parent
SCRIPT = Path(sys.executable).parent / "riskwatch"


def _run(*args: str, python: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "nautilus_riskwatch"] if python else [str(SCRIPT)]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)


def test_the_console_script_is_installed():
    # the [project.scripts] entry point: dev.sh installs the package, so the script exists
    assert SCRIPT.exists(), SCRIPT


def test_help_exits_0_and_lists_every_command_on_one_line_each():
    out = _run("--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: riskwatch ")
    lines = out.stdout.splitlines()
    for name in COMMANDS:
        [line] = [x for x in lines if x.strip().startswith(name + " ")]
        assert len(line.split(maxsplit=1)[1]) > 20, line  # a real description
    assert "--version" in out.stdout
    assert _run("-h").stdout == out.stdout


def test_the_usage_line_names_the_way_it_was_run():
    assert _run("--help", python=True).stdout.startswith("usage: python -m nautilus_riskwatch ")
    sub = _run("postmortem", "--help")
    assert sub.returncode == 0 and sub.stdout.startswith("usage: riskwatch postmortem ")


def test_version():
    out = _run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"nautilus-riskwatch {version('nautilus-riskwatch')}"


def test_no_command_or_an_unknown_one_is_a_usage_error(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "usage: " in err and "give a command (postmortem, firm)" in err
    assert main(["postmortm"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'postmortm' (did you mean 'postmortem'?)" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no such file: "),
        (b"", "the file is empty"),
        (b"hello\nworld\n", "no riskwatch events in it (2 lines could not be read, the first:"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "no riskwatch events in it"),
    ],
    ids=["missing", "empty", "text", "binary"],
)
def test_postmortem_on_a_file_that_is_not_an_event_log_says_so_in_one_line(tmp_path, content, says):
    path = tmp_path / "events.jsonl"
    if content is not None:
        path.write_bytes(content)
    out = _run("postmortem", str(path))
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr.startswith("riskwatch postmortem: error: ")
    assert says in out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_help_and_postmortem_need_no_firm_extra(tmp_path):
    # redis (the [firm] extra) made unimportable: the help, the firm's help and the
    # post-mortem still work
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "redis" or name.startswith("redis."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        sys.meta_path.insert(0, Block())
        from nautilus_riskwatch.__main__ import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    empty = tmp_path / "events.jsonl"
    empty.write_text("")

    def run(*args):
        return subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
        )

    assert run("--help").returncode == 0
    post = run("postmortem", str(empty))
    assert post.returncode == 1 and "the file is empty" in post.stderr
    firm = run("firm", "--help")
    assert firm.returncode == 0 and "usage: riskwatch firm" in firm.stdout
