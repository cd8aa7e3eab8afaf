#!/usr/bin/env python
"""Django's command-line utility for the arena."""
from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    import django
    from django.core.management import execute_from_command_line

    django.setup()
    from ledger.changes import acting  # needs the apps loaded

    with acting(interface="command"):  # what a command changes is attributed to it in the audit trail
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
