"""Deliberately broken variants of the model, each modelled on a real bug or a classic slip.

Rules:
1. A variant is an operation table: the profile's real table with one operation wrapped
   by a broken version. The model itself is never modified or patched.
2. Each broken operation reuses the real one and bends its input or output, so the slip
   it plants is the only difference.
3. Each variant names the rules expected to catch it (any one suffices) and what it is
   modelled on; ``tests/test_harness_strength.py`` asserts the stateful suite finds each.
"""

from variants.broken import VARIANTS, Variant

__all__ = ["VARIANTS", "Variant"]
