"""A pytest plugin: failing harness runs and recorded counterexamples become reports, and the header names the model.

Registered through the ``pytest11`` entry point ``sales_model`` (pyproject.toml), so every ``pytest``
run of an environment where codex-sales-model is installed loads it; ``-p no:sales_model`` turns it off.

Rules:
1. Importing this module imports neither z3 nor the model, its engines or Hypothesis: only the
   standard library and pytest. Everything else is imported inside the hooks, when needed.
2. Options (all ``--sales-``): ``--sales-report-dir DIR`` writes the three renderings of every
   counterexample (``reports.render.write_all``: Markdown, ITF JSON, a pytest regression file) into
   DIR (default: none, nothing is written; the counterexamples are still listed);
   ``--sales-coverage`` prints the sale-table coverage report of an exhaustive suite
   (``--sales-coverage-suite``, default ``quick``; ``default`` is the suite ``sales-model explore``
   judges) in a terminal summary section.
3. A test that fails with a ``stateful_tests.machines.HarnessFailure`` (also inside an
   ``ExceptionGroup``) is converted with ``reports.engines.from_harness_failure``. The profile, the
   operation table and the variant come from the failure when it carries them, else from the
   machine found in the failure's traceback (its ``state.profile``, the ``operations`` its class
   closes over, a broken variant whose wrapper sits in that table, or a broken market whose rules
   are the machine's).
4. The fixture ``sales_counterexample`` is a callable ``record(cx)``: a test hands a
   ``reports.counterexample.Counterexample`` to the plugin, which writes it whatever the test's outcome.
5. Every counterexample is listed, with its files, in the terminal summary section
   "sales-model counterexamples", and attached to the test's report as a section. Two
   counterexamples with the same file names go to a subdirectory named after the second's test.
6. The report header names the model profiles, the Hypothesis settings profile in use and the
   installed z3-solver version (read from the package metadata, z3 is not imported).

Mirrors: ``sales-model check`` (same renderings, same report layout).
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from reports.counterexample import Counterexample

HARNESS_FAILURE = ("stateful_tests.machines", "HarnessFailure")
SECTION = "sales-model counterexamples"


class Found:
    """One counterexample a test produced: the value (or why it could not be built) and its files."""

    def __init__(self, nodeid: str, cx: Counterexample | None, error: str = "") -> None:
        self.nodeid, self.cx, self.error = nodeid, cx, error
        self.paths: list[Path] = []


class Collector:
    """The session's counterexamples and where they go."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.found: list[Found] = []
        self.taken: set[tuple[Path, str]] = set()

    def add(self, found: Found) -> None:
        self.found.append(found)
        if found.cx is None or self.directory is None:
            return
        from reports.render import write_all

        directory, slug = self.directory, found.cx.slug()
        if (directory, slug) in self.taken:
            base = directory / _slugify(found.nodeid.rsplit("::", 1)[-1])
            directory, number = base, 2
            while (directory, slug) in self.taken:
                directory, number = base.with_name(f"{base.name}-{number}"), number + 1
        self.taken.add((directory, slug))
        try:
            found.paths = write_all(found.cx, directory)
        except Exception as error:  # a rendering bug must not hide the test's own failure
            found.error = f"could not write the renderings: {type(error).__name__}: {error}"


COLLECTOR = pytest.StashKey[Collector]()
RECORDED = pytest.StashKey[list["Counterexample"]]()


def _slugify(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60] or "test"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sales-model", "codex-sales-model counterexample reports")
    group.addoption(
        "--sales-report-dir",
        default=None,
        metavar="DIR",
        help="write Markdown, ITF JSON and a pytest regression file for every counterexample into DIR",
    )
    group.addoption(
        "--sales-coverage",
        action="store_true",
        default=False,
        help="print the sale-table coverage report of an exhaustive exploration in the terminal summary",
    )
    group.addoption(
        "--sales-coverage-suite",
        default="quick",
        metavar="SUITE",
        help="the exhaustive suite --sales-coverage explores (quick or default; default: quick)",
    )


def pytest_configure(config: pytest.Config) -> None:
    directory = config.getoption("sales_report_dir", None)
    config.stash[COLLECTOR] = Collector(Path(directory) if directory else None)


def pytest_report_header(config: pytest.Config) -> str:
    """One line: the model profiles, the Hypothesis settings profile in use, the z3-solver version."""
    from model.state import Profile

    try:
        from hypothesis import settings

        hypothesis_profile = settings.get_current_profile_name()
    except Exception:  # no hypothesis, or an older one
        hypothesis_profile = "unknown"
    try:
        z3_version = importlib.metadata.version("z3-solver")
    except importlib.metadata.PackageNotFoundError:
        z3_version = "not installed"
    profiles = ", ".join(profile.value for profile in Profile)
    return f"sales-model: profiles {profiles}; hypothesis profile {hypothesis_profile}; z3-solver {z3_version}"


@pytest.fixture
def sales_counterexample(request: pytest.FixtureRequest) -> Callable[[Counterexample], None]:
    """``record(cx)``: hand a ``reports.counterexample.Counterexample`` to the sales-model plugin.

    The plugin writes its renderings into ``--sales-report-dir`` (if given) and lists it in the
    "sales-model counterexamples" summary, whether the test passes or fails::

        def test_refutation_is_reported(sales_counterexample):
            sales_counterexample(engines.from_refutation(result, found))
    """
    recorded: list[Counterexample] = request.node.stash.setdefault(RECORDED, [])
    return recorded.append


# -- harness failures -------------------------------------------------------------------


def _is_harness_failure(error: BaseException) -> bool:
    return any((kind.__module__, kind.__name__) == HARNESS_FAILURE for kind in type(error).__mro__)


def harness_failures(error: BaseException) -> Iterator[BaseException]:
    """The harness failures in ``error``: itself, or inside (nested) exception groups."""
    if _is_harness_failure(error):
        yield error
    elif isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from harness_failures(inner)


def _closure(kind: type, name: str) -> Any:
    """A value named ``name`` that a method of ``kind`` closes over (machines close over their profile)."""
    for klass in kind.__mro__:
        for attribute in vars(klass).values():
            code = getattr(attribute, "__code__", None)
            cells = getattr(attribute, "__closure__", None)
            if code is None or not cells or name not in code.co_freevars:
                continue
            return cells[code.co_freevars.index(name)].cell_contents
    return None


def _machine(traceback: TracebackType | None) -> tuple[Any, Any]:
    """The innermost machine in ``traceback`` (an object whose ``state`` or ``market`` has a
    ``profile``), and that profile."""
    found: tuple[Any, Any] = (None, None)
    while traceback is not None:
        candidate = traceback.tb_frame.f_locals.get("self")
        for attribute in ("state", "market"):
            profile = getattr(getattr(candidate, attribute, None), "profile", None)
            if profile is not None:
                found = (candidate, profile)
        traceback = traceback.tb_next
    return found


def _variant(operations: Any) -> str | None:
    """The broken variant whose wrapper sits in ``operations``, if any."""
    if not operations:
        return None
    from variants import VARIANTS

    wrappers = {id(variant.wrapper): variant.name for variant in VARIANTS}
    for operation in operations.values():
        name = wrappers.get(id(getattr(operation, "func", None)))
        if name is not None:
            return name
    return None


def _market_variant(rules: Any, profile: Any) -> str | None:
    """The broken market whose rules ``rules`` are, if any (they compare by value)."""
    if rules is None or profile is None:
        return None
    from variants.broken_market import MARKET_VARIANTS

    for variant in MARKET_VARIANTS:
        if profile in variant.profiles and variant.rules(profile) == rules:
            return variant.name
    return None


def context(failure: BaseException) -> tuple[Any, Any, Any, str | None]:
    """Profile, operation table, market rules and variant name of a harness failure (rule 3)."""
    from model.state import Profile

    profile = getattr(failure, "profile", None)
    operations = getattr(failure, "operations", None)
    rules = None  # ``HarnessFailure.rules`` names the broken rules; the market rules come from the machine
    variant = getattr(failure, "variant", None)
    machine, machine_profile = _machine(failure.__traceback__)
    profile = profile if profile is not None else machine_profile
    if machine is not None and getattr(failure, "level", "reservations") == "market":
        rules = _closure(type(machine), "rules")
    elif machine is not None and operations is None:
        operations = _closure(type(machine), "operations")
    if profile is not None and not isinstance(profile, Profile):
        profile = Profile(profile)
    if variant is None:
        variant = _variant(operations) or _market_variant(rules, profile)
    return profile, operations, rules, variant


def convert(nodeid: str, failure: BaseException) -> Found:
    """A harness failure as a counterexample (or the reason it could not be built)."""
    try:
        profile, operations, rules, variant = context(failure)
        if profile is None:
            return Found(nodeid, None, "no profile: the failure names none and no machine is in its traceback")
        from reports import engines

        cx = engines.from_harness_failure(
            failure,  # type: ignore[arg-type]
            profile,
            operations=operations,
            variant=variant,
            rules=rules,
        )
    except Exception as error:  # the test's own failure stays the headline
        return Found(nodeid, None, f"could not build a counterexample: {type(error).__name__}: {error}")
    return Found(nodeid, cx)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    collector = item.config.stash.get(COLLECTOR, None)
    if collector is None:
        return report
    recorded = item.stash.get(RECORDED, [])
    found = [Found(item.nodeid, cx) for cx in recorded]
    recorded.clear()  # in place: the fixture's ``record`` appends to this very list
    if report.failed and call.excinfo is not None:
        found.extend(convert(item.nodeid, failure) for failure in harness_failures(call.excinfo.value))
    for one in found:
        collector.add(one)
        report.sections.append((SECTION, _describe(one)))
    return report


def _describe(found: Found) -> str:
    head = found.cx.summary if found.cx is not None else found.error
    lines = [f"{found.nodeid}: {head}"]
    if found.cx is not None and found.error:
        lines.append(f"  {found.error}")
    lines.extend(f"  {path}" for path in found.paths)
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    collector = config.stash.get(COLLECTOR, None)
    if collector is not None and collector.found:
        terminalreporter.section(SECTION)
        for found in collector.found:
            terminalreporter.write_line(_describe(found))
        if collector.directory is None and any(f.cx is not None for f in collector.found):
            terminalreporter.write_line("(not written: pass --sales-report-dir DIR to write their renderings)")
    if config.getoption("sales_coverage", False):
        terminalreporter.section("sales-model coverage")
        for line in coverage_report(str(config.getoption("sales_coverage_suite", "quick"))):
            terminalreporter.write_line(line)


def coverage_report(suite_name: str) -> list[str]:
    """The exhaustive suite of both profiles, reported as ``sales-model explore`` reports it."""
    from model.state import Profile
    from sales_model.commands import explore
    from stateful_tests.exhaustive import SCOPES, SUITES, explore_suite

    if suite_name not in SUITES:
        return [f"no suite {suite_name!r}; known: {', '.join(sorted(SUITES))}"]
    scopes = tuple(SCOPES[name] for name in SUITES[suite_name])
    lines: list[str] = []
    for profile in Profile:
        suite = explore_suite(profile, scopes, name=suite_name)
        lines.extend(explore.summary(suite, suite_name == "default", traces=False).splitlines())
    return lines
