"""Discharging obligations: one fresh Z3 context each, a resource budget, honest verdicts.

Rules:
1. ``Proved`` only on ``unsat``; ``unknown`` is ``Unknown(reason)``, never a pass.
2. Before the goal, the hypotheses alone, and then the hypotheses with the disjunction of the
   cases' premises, must be satisfiable; otherwise the obligation is ``Vacuous``.
3. The budget is z3's deterministic ``rlimit``; a wall-clock timeout is only a backstop.
4. A proof is first found untracked; a second pass with tracked hypotheses names the ones
   the proof used (its unsat core).
5. Bit-vector obligations are decided by int-blasting (``intblast``: an exact translation into
   integer arithmetic) unless the budget asks for z3's bit-blaster; a formula outside the
   translated fragment falls back to bit-blasting. An int-blasted counterexample is checked in
   the original bit-vector formula before it is reported.
6. A refutation names the first failing case in the obligation's order, is minimised with
   ``Optimize`` (smallest values of the symbols that case mentions) under the same ``rlimit``
   budget, and is replayed concretely by ``replay``. Nothing depends on the wall clock unless
   the backstop fires, so a report is the same on a fast machine and a slow one.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Any

import attrs

from invariants.symbolic import z3api as z
from invariants.symbolic.intblast import Blaster, Untranslatable
from invariants.symbolic.obligations import Obligation
from invariants.symbolic.values import Mode


@attrs.frozen
class Budget:
    """Resource limits for one obligation."""

    rlimit: int = 50_000_000
    timeout_ms: int = 60_000
    minimise_ms: int = 60_000  # a backstop; the rlimit decides
    cores: bool = True
    bv_engine: str = "intblast"  # intblast | bitblast: how bit-vector formulas are decided


@attrs.frozen
class Model:
    """Values of the symbols in a counterexample, by name, and the case it breaks."""

    values: Mapping[str, int | bool]
    case: str
    minimal: bool
    raw: Any = attrs.field(eq=False, repr=False)  # z3 model, in the obligation's own context
    ctx: Any = attrs.field(eq=False, repr=False)


@attrs.frozen
class Result:
    """The verdict on one obligation."""

    obligation: Obligation = attrs.field(repr=False)
    status: str  # proved | refuted | unknown | vacuous
    seconds: float
    rlimit: int
    core: tuple[str, ...] = ()
    reason: str = ""
    model: Model | None = None
    live_cases: int = 0
    focused: bool = False  # proved from the ``focus`` hypotheses alone (core from integer mode)
    engine: str = "lia"  # lia (integer mode) | intblast | bitblast (bit-vector mode)

    @property
    def as_expected(self) -> bool:
        return self.status == self.obligation.expected


def _value(raw: Any) -> int | bool:
    if z.is_true(raw):
        return True
    if z.is_false(raw):
        return False
    return int(raw.as_long())


def discharge(obligation: Obligation, budget: Budget | None = None, focus: Collection[str] | None = None) -> Result:
    """Decide one obligation in a fresh context.

    ``focus`` names hypotheses to try alone first (the unsat core of the same obligation proved
    in integer mode): if they prove it, the result is ``proved`` with them as its core; if not,
    the obligation is decided with every hypothesis as usual. The vacuity checks always use all.
    """
    budget = budget or Budget()
    started = time.perf_counter()
    ctx = z.Context()
    named = {name: z.translate(f, ctx) for name, f in {**obligation.hypotheses, **obligation.extra}.items()}
    premises = [z.translate(c.premise, ctx) for c in obligation.cases]
    failures = [z.And(p, z.Not(z.translate(c.goal, ctx))) for p, c in zip(premises, obligation.cases, strict=True)]
    engine, blaster = _engine(obligation, budget, ctx)
    if blaster is not None:
        originals = (dict(named), list(failures))
        try:
            named = {name: blaster.formula(f) for name, f in named.items()}
            premises = [blaster.formula(p) for p in premises]
            failures = [blaster.formula(f) for f in failures]
        except Untranslatable:
            named, failures = originals
            premises = [z.translate(c.premise, ctx) for c in obligation.cases]
            engine, blaster = "bitblast", None
    background = list(blaster.definitions) if blaster is not None else []
    asked = _Questions(ctx, budget, background)

    def done(status: str, **kw: Any) -> Result:
        return Result(
            obligation=obligation,
            status=status,
            seconds=time.perf_counter() - started,
            rlimit=asked.rlimit,
            engine=engine,
            **kw,
        )

    everything = list(named.values())
    answer, why = _vacuity(obligation, (), asked, everything)
    if answer == "unsat":
        return done("vacuous", reason="the hypotheses contradict each other")
    if answer == "unknown":
        return done("unknown", reason=f"hypotheses: {why}")
    premise_ids = tuple(c.premise.get_id() for c in obligation.cases)
    answer, why = _vacuity(obligation, premise_ids, asked, [*everything, z.Or(z.BoolVal(False, ctx), *premises)])
    if answer == "unsat":
        return done("vacuous", reason="no path's condition is satisfiable with the hypotheses")
    if answer == "unknown":
        return done("unknown", reason=f"premises: {why}")
    if focus is not None:
        # A proof from a subset of the hypotheses is a proof from all of them (monotonicity).
        chosen = [f for name, f in named.items() if name in focus or name == "lemmas"]
        if _each_unsat(asked, chosen, failures):
            used = tuple(sorted(name for name in named if name in focus))
            return done("proved", core=used or ("(none: the goal holds on its own)",), focused=True)
    answer, solver = asked.check([*everything, z.Or(z.BoolVal(False, ctx), *failures)])
    if answer == z.unknown:
        return done("unknown", reason=solver.reason_unknown())
    if answer == z.sat:
        model = _counterexample(obligation, named, failures, solver.model(), ctx, budget, background, blaster)
        if blaster is not None:
            bv_named, bv_failures = originals
            index = next(i for i, c in enumerate(obligation.cases) if c.label == model.case)
            claim = z.And(*bv_named.values(), bv_failures[index])
            if not blaster.bv_model_satisfies(claim, model.raw):
                return done("unknown", reason="int-blasting: the counterexample fails in the bit-vector formula")
        return done("refuted", model=model)
    core = _core(named, failures, ctx, budget, background) if budget.cores else ("(cores not computed)",)
    return done("proved", core=core)


def _engine(obligation: Obligation, budget: Budget, ctx: Any) -> tuple[str, Blaster | None]:
    """How this obligation's formulas are decided, and the translator when they are int-blasted."""
    suite = obligation.suite
    if obligation.mode is not Mode.BV:
        return "lia", None
    if budget.bv_engine == "bitblast" or suite is None:
        return "bitblast", None
    signed = [name for name, sym in suite.space.symbols.items() if sym.dom is not None and sym.dom.signed]
    return "intblast", Blaster(ctx, signed)


class _Questions:
    """Each question to Z3 on a fresh solver, asserted once and checked once.

    Never ``push``/``pop``: an incremental solver skips the bit-vector preprocessing (equation
    solving, the QF_BV tactic), and a question it answers in seconds or not at all a fresh solver
    answers in milliseconds. The rlimit spent is summed over the questions.
    """

    def __init__(self, ctx: Any, budget: Budget, background: list[Any] | None = None) -> None:
        self.ctx = ctx
        self.budget = budget
        self.background = background or []  # definitions every question carries (int-blasting)
        self.rlimit = 0

    def check(self, assertions: list[Any], rlimit: int | None = None) -> tuple[Any, Any]:
        solver = z.Solver(ctx=self.ctx)
        solver.set("rlimit", self.budget.rlimit if rlimit is None else rlimit)
        solver.set("timeout", self.budget.timeout_ms)
        solver.add(*self.background, *assertions)
        answer = solver.check()
        self.rlimit += z.rlimit_used(solver)
        return answer, solver


def _each_unsat(asked: _Questions, hypotheses: list[Any], failures: list[Any]) -> bool:
    """Is the disjunction of ``failures`` unsatisfiable with ``hypotheses``? Asked whole, then, if
    that is not ``unsat``, case by case (the disjunction is unsat iff every case is: a single path
    is a smaller question). The whole is given a tenth of the budget, each case all of it."""
    whole, _ = asked.check(
        [*hypotheses, z.Or(z.BoolVal(False, asked.ctx), *failures)], rlimit=max(asked.budget.rlimit // 10, 1)
    )
    if whole == z.unsat:
        return True
    if whole == z.sat:
        return False
    return all(asked.check([*hypotheses, failure])[0] == z.unsat for failure in failures)


def _vacuity(obligation: Obligation, key: tuple[int, ...], asked: _Questions, assertions: list[Any]) -> tuple[str, str]:
    """Are ``assertions`` (the hypotheses, and the premises) satisfiable? Asked once per suite and
    question: the obligations of a suite share their hypotheses, and those of one operation their
    paths (``key``: the premises' ids in the suite's context)."""
    suite = obligation.suite
    assumed = {**obligation.hypotheses, **obligation.extra}
    full_key = (*(formula.get_id() for formula in assumed.values()), -1, *key)
    if suite is not None and full_key in suite.vacuity_answers:
        return suite.vacuity_answers[full_key]
    answer, solver = asked.check(assertions)
    reason = solver.reason_unknown() if answer == z.unknown else ""
    found = ("unsat" if answer == z.unsat else "unknown" if answer == z.unknown else "sat", reason)
    if suite is not None:
        suite.vacuity_answers[full_key] = found
    return found


def _core(
    named: Mapping[str, Any], failures: list[Any], ctx: Any, budget: Budget, background: list[Any]
) -> tuple[str, ...]:
    tracker = z.Solver(ctx=ctx)
    tracker.set("rlimit", budget.rlimit)
    tracker.set("timeout", budget.timeout_ms)
    tracker.set("core.minimize", True)
    tracker.add(*background)
    for name, formula in named.items():
        tracker.assert_and_track(formula, z.Bool(f"h|{name}", ctx))
    tracker.add(z.Or(z.BoolVal(False, ctx), *failures))
    if tracker.check() != z.unsat:
        return ("(core not found within the budget)",)
    names = sorted(str(lit)[2:] for lit in tracker.unsat_core())
    return tuple(names) if names else ("(none: the goal holds on its own)",)


def _first_failing_case(
    named: Mapping[str, Any], failures: list[Any], model: Any, ctx: Any, budget: Budget, background: list[Any]
) -> int:
    """The first case, in the obligation's order, that can fail: the report names the same case every run.

    The solver's own model satisfies some failing case, but which one depends on its heuristics;
    asking case by case does not. If no single case is decided within the budget, fall back to the
    case the solver's model breaks.
    """
    fallback = next(i for i, f in enumerate(failures) if z.is_true(model.eval(f, model_completion=True)))
    asked = _Questions(ctx, budget, background)
    for index, failing in enumerate(failures[:fallback]):
        if asked.check([*named.values(), failing])[0] == z.sat:
            return index
    return fallback


def _counterexample(
    obligation: Obligation,
    named: Mapping[str, Any],
    failures: list[Any],
    model: Any,
    ctx: Any,
    budget: Budget,
    background: list[Any],
    blaster: Blaster | None,
) -> Model:
    index = _first_failing_case(named, failures, model, ctx, budget, background)
    failing = failures[index]
    symbols = z.constants(failing)
    if blaster is not None:  # minimise the variables' values, not the int-blaster's helpers
        symbols = [s for s in symbols if not str(s).startswith(("#wrap", "#reduced"))]
    optimizer = z.Optimize(ctx=ctx)
    optimizer.set("rlimit", budget.rlimit)
    optimizer.set("timeout", budget.minimise_ms)
    optimizer.add(*background, *named.values(), failing)
    for symbol in symbols:
        if z.is_bv(symbol):
            optimizer.minimize(symbol)
        elif symbol.sort().name() == "Int":
            optimizer.minimize(z.If(symbol < 0, -symbol, symbol))
    minimal = optimizer.check() == z.sat
    chosen = optimizer.model() if minimal else model
    space = obligation.suite.space if obligation.suite is not None else None
    values: dict[str, int | bool] = {}
    if space is not None:
        for name, sym in space.symbols.items():
            if blaster is not None:
                values[name] = blaster.signed_value(name, chosen) if name in blaster.variables else 0
                continue
            values[name] = _value(chosen.eval(z.translate(sym.term, ctx), model_completion=True))
            if space.mode.value == "bv" and sym.dom is not None and sym.dom.signed:
                number = values[name]
                assert isinstance(number, int)
                if number >= 1 << (sym.dom.width - 1):
                    values[name] = number - (1 << sym.dom.width)
        for name, flag in space.flags.items():
            values[name] = _value(chosen.eval(z.translate(flag.term, ctx), model_completion=True))
    return Model(values=values, case=obligation.cases[index].label, minimal=minimal, raw=chosen, ctx=ctx)
