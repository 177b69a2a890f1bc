"""``python -m checker`` is the ``checker`` command."""

from checker.cli import main

if __name__ == "__main__":
    main()
