"""Runs last (file order): after every posting of the suite on this backend,
rebuilding balances from the moves finds no difference."""


def test_verify_ledger_after_the_whole_suite(app):
    result = app.test_cli_runner().invoke(args=["medtrace", "verify-ledger"])
    assert result.exit_code == 0, result.output
    assert "no differences" in result.output
