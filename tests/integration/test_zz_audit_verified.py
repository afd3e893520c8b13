"""Runs near the end (file order): after the suite's changes on this backend,
the audit trail's hash chain and seal verify."""


def test_verify_audit_after_the_whole_suite(app):
    result = app.test_cli_runner().invoke(args=["medtrace", "verify-audit"])
    assert result.exit_code == 0, result.output
    assert "audit trail verified" in result.output and "seal matches" in result.output
