"""Admin for the market side: markets (written by the feed), exchange wallets
(editable, keys write-only), positions and trades (read-only records), and what
reconciliation with the exchanges did and found (read-only, but a discrepancy can be
marked resolved with a word on how)."""
from trading.admin import markets, real, records  # noqa: F401  (each registers its admins)
