"""`python -m backend.cli`: the same as the `caretrail` command."""

import sys

from backend.cli import main

sys.exit(main())
