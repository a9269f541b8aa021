"""The layers as a contract: handlers and jobs over views, views over services, services over db,
nothing upward, no cycles (importlinter.toml; what still breaks a rule is listed there, with why)."""

from __future__ import annotations

from importlinter.cli import lint_imports

from tests.conftest import ROOT


def test_the_import_contracts_hold(capsys) -> None:  # type: ignore[no-untyped-def]
    code = lint_imports(config_filename=str(ROOT / "importlinter.toml"), no_cache=True, no_logo=True)
    assert code == 0, capsys.readouterr().out
