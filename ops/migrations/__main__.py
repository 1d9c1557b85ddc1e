"""`python -m ops.migrations`: apply the ledger's migrations to DATABASE_URL (the compose `migrate` job)."""

import sys

from .cli import main

sys.exit(main())
