"""The firm-wide kill switch: one latch in Redis that every node obeys.

Needs the ``firm`` extra (``pip install 'nautilus-riskwatch[firm]'``: redis-py). Nothing
here imports nautilus_trader: the link, the latch and the node's membership are plain
asyncio, and the actor wires them in (``RiskWatchConfig(firm=...)``).
"""
