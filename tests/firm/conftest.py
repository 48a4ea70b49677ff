"""A real ``redis-server`` on 127.0.0.1 (random port, temp dir) for every firm test."""

from __future__ import annotations

import pytest

from nautilus_riskwatch.firm.server import LocalRedis


@pytest.fixture
def redis_server():
    """A fresh server with append-only persistence; ``kill()``/``start()`` restart it."""
    with LocalRedis(appendonly=True) as server:
        yield server
