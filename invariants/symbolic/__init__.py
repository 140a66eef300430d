"""Symbolic execution of the model's own code, and the Z3 proofs built on it.

The only part of ``invariants/`` that imports z3 (through ``z3api``); nothing imports this
package implicitly, so ``import invariants`` and ``import model`` stay z3-free.
"""
