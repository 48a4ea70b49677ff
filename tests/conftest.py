"""Shared test setup: ``tests/`` is on ``sys.path`` (pytest's prepend mode) for ``fakes``."""
