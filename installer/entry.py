"""What the frozen executables run: the ``labdeck`` command (no arguments opens the app)."""

import sys

from labdeck.cli import main

if __name__ == "__main__":
    sys.exit(main())
