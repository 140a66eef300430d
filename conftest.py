"""Load the Hypothesis settings profile (``dev``; ``ci`` under ``CI=true``; or ``HYPOTHESIS_PROFILE``)."""

from stateful_tests import profiles

profiles.load()
