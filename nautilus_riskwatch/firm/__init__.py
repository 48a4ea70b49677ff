"""The firm-wide kill switch: one latch in Redis that every node obeys.

Needs the ``firm`` extra (redis-py and cryptography: ``pip install '.[firm]'`` in a clone,
see the README's Install). Nothing here imports nautilus_trader: the link, the latch and
the node's membership are plain asyncio, and the actor wires them in
(``RiskWatchConfig(firm=...)``).
"""
