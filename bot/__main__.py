"""`python -m bot` does what `kardes` does."""

import sys

from bot.cli import main

sys.exit(main())
