"""Counterexamples as one value, whatever engine found them, and their renderings.

Modules: ``counterexample`` (the value, snapshots of states), ``vocabulary`` (actions as names and
arguments, both ways), ``build`` (replays actions into a counterexample's steps), ``itf`` (ITF JSON,
Apalache ADR-015), ``markdown``, ``regression`` (a pytest file), ``replay`` (a saved trace through
the model), ``engines`` (each engine's failure as a counterexample), ``render`` (all renderings).

Pure except where a module says it writes files (``render.write_all``).
"""
