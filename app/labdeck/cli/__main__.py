"""``python -m labdeck.cli``: the same as the ``labdeck`` command."""

import sys

from . import main

sys.exit(main())
