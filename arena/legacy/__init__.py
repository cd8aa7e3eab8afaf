"""Importing the legacy Node.js arena (``manage.py migrate_arena_state``).

Modules, in the order data flows through them:

- ``reader``: opens ``arena.db`` (read-only) or a JSON blob file; streams the blob's
  bots with ijson and reads table history per bot, in batches.
- ``values``, ``normalize``, ``records``: every legacy field checked and converted
  (Decimal money, aware datetimes); bad input is a ``LegacyError`` naming the file
  and the record.
- ``history``, ``botdata``: one bot's history as the union of blob and tables, with
  trades linked to positions.
- ``mapping``: legacy configuration values → ours (provider kinds and base URLs,
  settings, bcrypt hashes, avatars, learning summaries).
- ``config``, ``writer``, ``money``: the writes; ``money`` documents how the
  legacy's cash is represented in the ledger. ``known`` finds what an earlier run
  imported (so runs never duplicate); ``bulk`` inserts the many history rows fast.
- ``proof``, ``report``: legacy vs imported, and the text the command prints.
- ``importer``: the transaction around it all.
"""
