"""Fixtures shared by the test tiers: the real local stack and workers (tests/support)."""

import os

from hypothesis import settings

pytest_plugins = ["tests.support.stack_fixtures"]

# One profile for every property test: no per-example deadline, because an example's run time on a
# busy two-core machine says nothing about the property.
settings.register_profile("ledgerstream", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ledgerstream"))
