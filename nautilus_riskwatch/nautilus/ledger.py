"""The exact PnL ledger lives in the pure core (``nautilus_riskwatch.core.ledger``): it needs
nothing from the engine. Re-exported here, where it used to live, so imports keep working."""

from nautilus_riskwatch.core.ledger import Exact, PnlLedger, Purse

__all__ = ["Exact", "PnlLedger", "Purse"]
