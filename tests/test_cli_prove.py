"""``sales-model prove``: exit codes, output, usage errors."""

from __future__ import annotations

from sales_model.cli import main


def test_prove_codex535_prints_each_obligation_the_ledger_and_exits_0(capsys):
    assert main(["prove", "--profile", "codex-535"]) == 0
    out = capsys.readouterr().out
    assert "PROVED" in out
    assert "uses:" in out
    assert "Assumption ledger" in out
    assert "locality:" in out
    assert "Paths and vacuity checks" in out
    assert "obligations whose premises are unsatisfiable: 0" in out


def test_prove_rejects_a_malformed_scope(capsys):
    assert main(["prove", "--scope", "lots"]) == 2
    assert "scope must look like 2x2" in capsys.readouterr().err


def test_prove_rejects_a_non_positive_budget(capsys):
    assert main(["prove", "--rlimit", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err


def test_prove_with_a_starved_budget_exits_3(capsys):
    assert main(["prove", "--profile", "codex-535", "--rlimit", "300", "--quiet"]) == 3
    assert "UNKNOWN" in capsys.readouterr().out


def test_prove_codex_head_triages_every_refutation_as_reachable(capsys):
    assert main(["prove", "--profile", "codex-head", "--no-cores"]) == 0
    out = capsys.readouterr().out
    assert out.count("REFUTED") == 5
    assert out.count("triage: reachable") == 5
    assert "3. return_bytes_to_availability(availability_id=a1, reservation_id=r11, bytes=0)" in out


def test_prove_rejects_a_non_positive_triage_cap(capsys):
    assert main(["prove", "--triage-depth", "0"]) == 2
    assert "triage caps must be positive" in capsys.readouterr().err


def test_prove_in_bit_vector_mode_names_the_engine(capsys):
    assert main(["prove", "--profile", "codex-535", "--mode", "bv", "--no-cores"]) == 0
    out = capsys.readouterr().out
    assert "bit-vectors decided by intblast" in out
    assert "[intblast]" in out
    assert "[bitblast]" not in out
    assert "60 obligations" in out


def test_prove_rejects_an_unknown_bit_vector_engine(capsys):
    assert main(["prove", "--bv-engine", "sat"]) == 2
    assert "invalid choice: 'sat'" in capsys.readouterr().err
