"""`python -m ops.connectors`: connectors as code over the Kafka Connect REST API (see ops/connectors/cli.py)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
