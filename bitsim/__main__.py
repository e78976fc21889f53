"""``python -m bitsim``: the command line."""

import sys

from bitsim.cli import main

sys.exit(main())
