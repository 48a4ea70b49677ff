"""A real ``redis-server`` on 127.0.0.1 (random port, temp dir) for every firm test."""

from __future__ import annotations

import pytest

from nautilus_riskwatch.testing import LocalRedis


@pytest.fixture
def redis_server():
    """A fresh server with append-only persistence; ``kill()``/``start()`` restart it."""
    with LocalRedis(appendonly=True) as server:
        yield server


@pytest.fixture
def nodes():
    """Node processes, killed at the end of the test whatever happened."""
    from nodes import Nodes

    group = Nodes()
    yield group
    group.close()
