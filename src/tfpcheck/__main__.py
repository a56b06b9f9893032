"""Allow ``python -m tfpcheck``."""

import sys

from tfpcheck.cli import main

sys.exit(main())
