"""``python -m flowless`` is the ``flowless`` command."""

import sys

from flowless.cli import main

sys.exit(main())
