#!/usr/bin/env bash
# One entry point for people and CI: creates its own virtualenv, then runs what you ask.
#   bash dev.sh demo   run the backtest demo (real EUR/USD quotes, offline)
#   bash dev.sh test   lint, type-check, then the whole test suite
#   bash dev.sh env    only create (or update) the environment
# PYTHON picks the interpreter (default python3), VENV the environment folder (.venv).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(cat pyproject.toml | cksum | cut -d' ' -f1)"
if [ ! -f "$stamp" ]; then
  echo "installing into $VENV (first run only)..." >&2
  if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test,plot]" >"$VENV/pip.log" 2>&1; then
    cat "$VENV/pip.log" >&2
    exit 1
  fi
  touch "$stamp"
fi

case "${1:-}" in
  demo)
    shift
    exec "$VENV/bin/python" examples/backtest_quickstart.py "$@"
    ;;
  env)
    exit 0
    ;;
  test)
    shift
    "$VENV/bin/python" -c 'import sys, nautilus_trader; print(f"python {sys.version.split()[0]}, nautilus_trader {nautilus_trader.__version__}")'
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    # types: the whole package strictly (NautilusTrader ships no types: its classes are Any)
    "$VENV/bin/mypy" --strict nautilus_riskwatch
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: bash dev.sh demo|test|env [args]" >&2
    exit 2
    ;;
esac
