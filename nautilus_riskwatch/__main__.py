"""``riskwatch``: the command line (also ``python -m nautilus_riskwatch``).

One command per job, each a module of its own: ``postmortem`` reads an event log file,
``firm`` drives the firm-wide switch. Each is imported only when it is asked for, so the
help and the post-mortem work without the ``[firm]`` extra.

Exit status: 0 done; 1 the command failed (it says why on one line); 2 a usage error.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

#: name -> (one line of help, the module whose ``main(argv, prog=...)`` runs it)
COMMANDS: dict[str, tuple[str, str]] = {
    "postmortem": (
        "read an event log file: the timeline, the trip report, the trip picture",
        "nautilus_riskwatch.report.postmortem",
    ),
    "firm": (
        "the firm-wide switch on Redis: kill, status, rearm, keygen, enrol, forget ([firm])",
        "nautilus_riskwatch.firm.cli",
    ),
}


def version() -> str:
    """The installed distribution's version (the package's own when run from a clone)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("nautilus-riskwatch")
    except PackageNotFoundError:
        from nautilus_riskwatch import __version__

        return __version__


def program() -> str:
    """What the user typed to run us: ``riskwatch``, or ``python -m nautilus_riskwatch``."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if name in ("", "__main__.py", "-c", "-m"):
        return "python -m nautilus_riskwatch"
    return name


def usage(prog: str) -> str:
    width = max(map(len, COMMANDS))
    lines = [
        f"usage: {prog} [--help] [--version] COMMAND ...",
        "",
        "A kill switch for NautilusTrader: the operator's commands.",
        "",
        "commands:",
        *(f"  {name:<{width}}  {about}" for name, (about, _) in COMMANDS.items()),
        "",
        "options:",
        "  -h, --help     show this help and exit",
        "  --version      show the version and exit",
        "",
        f"'{prog} COMMAND --help' shows a command's own options.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    prog = program()
    if not args:
        print(usage(prog), file=sys.stderr)
        print(f"\n{prog}: error: give a command ({', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    first, rest = args[0], args[1:]
    if first in ("-h", "--help", "help"):
        print(usage(prog))
        return 0
    if first in ("-V", "--version"):
        print(f"nautilus-riskwatch {version()}")
        return 0
    if first not in COMMANDS:
        from difflib import get_close_matches

        near = get_close_matches(first, COMMANDS, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        print(
            f"{prog}: error: unknown command {first!r}{hint}; "
            f"the commands are {', '.join(COMMANDS)} ('{prog} --help' says what each does)",
            file=sys.stderr,
        )
        return 2
    if first == "postmortem":
        from nautilus_riskwatch.report.postmortem import main as postmortem

        return postmortem(rest, prog=f"{prog} {first}")
    from nautilus_riskwatch.firm.cli import main as firm  # says itself if [firm] is missing

    return firm(rest)


if __name__ == "__main__":
    sys.exit(main())
