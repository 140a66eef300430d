"""``docs/sale-state-machine.md`` is generated from the sale tables and must not drift."""

from __future__ import annotations

from model.sale import TABLES
from sales_model import docgen


def test_committed_page_matches_the_tables() -> None:
    """The committed page is exactly what ``python -m sales_model.docgen`` writes (regenerate it if not)."""
    assert docgen.PAGE.read_text(encoding="utf-8") == docgen.page()


def test_check_flag_reports_up_to_date() -> None:
    """``--check`` exits 0 on the committed page and writes nothing."""
    before = docgen.PAGE.stat().st_mtime_ns
    assert docgen.main(["--check"]) == 0
    assert docgen.PAGE.stat().st_mtime_ns == before


def test_page_shows_every_table_pair() -> None:
    """Every (state, event) pair of both tables appears in the transition tables of the page."""
    page = docgen.page()
    for table in TABLES.values():
        for state, event in table:
            assert f"| {state.value} | {event.value} |" in page


def test_diagram_marks_cleanup_as_the_end() -> None:
    """In the Mermaid diagrams, a terminal state's cleanup leads to the final pseudo-state."""
    assert "Errored --> [*] : cleanup" in "\n".join(docgen.mermaid(next(iter(TABLES))))
