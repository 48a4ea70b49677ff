"""``python -m nautilus_riskwatch firm ...`` (and the ``riskwatch`` console script)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the one command group there is: ``firm``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "firm":
        print(
            "usage: python -m nautilus_riskwatch firm {keygen,kill,status,rearm,enrol,forget} ..."
        )
        return 2
    from nautilus_riskwatch.firm.cli import main as firm_main

    return firm_main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
