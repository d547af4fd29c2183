"""`python -m engine` is the `spatialdreamer` CLI."""

import sys

from engine.cli import main

sys.exit(main())
