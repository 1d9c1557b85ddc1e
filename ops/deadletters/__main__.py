"""`python -m ops.deadletters`: see deadletters/cli.py."""

import sys

from .cli import main

sys.exit(main())
