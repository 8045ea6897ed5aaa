"""``python -m labdeck``: the same as the ``labdeck`` command."""

import sys

from labdeck.cli import main

sys.exit(main())
