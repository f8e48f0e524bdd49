"""The ``studentvault`` console command: Django's management commands under one name.

``studentvault migrate``, ``studentvault demo setup``, ``studentvault dictionary --format md``...
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    execute_from_command_line(["studentvault", *args])


if __name__ == "__main__":
    main()
