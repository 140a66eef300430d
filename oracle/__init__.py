"""The model as an oracle for real implementations: lockstep testing, trace checking, node logs.

Modules: ``interface`` (the implementation Protocol, outcomes, id mapping), ``adapters`` (the
model itself and the broken variants as implementations), ``lockstep`` (the Hypothesis machine
that runs model and implementation side by side), ``trace`` (the JSON-lines trace vocabulary,
checking and shrinking), ``logs`` (nim-codex chronicles JSON logs as trace events).
"""
