"""README agrees with the code: the rule table is the registry's, the options are the CLI's."""

from __future__ import annotations

from conftest import ROOT

from tfpcheck.docs import END, START, rules_markdown

README = (ROOT / "README.md").read_text()


def test_rule_table_matches_registry() -> None:
    table = README.split(START, 1)[1].split(END, 1)[0].strip()
    assert table == rules_markdown(), "run: python -m tfpcheck.docs README.md"


def test_readme_shows_the_two_setup_commands() -> None:
    assert "pip install -e '.[tf]' && tfpcheck fixtures/models/" in README
    assert "pip install -e '.[tf,test]' && pytest" in README


def test_readme_documents_every_check_option(run_cli) -> None:
    help_text = run_cli("--help").stdout
    options = {word.strip(",") for word in help_text.split() if word.startswith("--")}
    options -= {"--help", "--no-from-logits"}
    missing = sorted(o for o in options if o not in README)
    assert not missing, f"README does not mention {missing}"


def test_readme_documents_the_python_api() -> None:
    import inspect

    from tfpcheck.api import Report, check

    section = README.split("### In Python and in notebooks", 1)[1].split("\n### ", 1)[0]
    for name in inspect.signature(check).parameters:
        assert f"`{name}" in section or f" {name}=" in section, name
    members = [m for m in vars(Report) if not m.startswith("__") and m != "result"]
    members = [m for m in members if m not in ("fail_on", "seconds")]
    for member in members:
        assert f"{member}" in section, member
    assert "tfpcheck.CheckFailed" in section


def test_readme_documents_the_callback_and_the_shapes_table() -> None:
    import ast

    section = README.split("### In Python and in notebooks", 1)[1].split("\n### ", 1)[0]
    # CheckCallback's parameters, read from its source (importing it would import Keras)
    source = (ROOT / "src" / "tfpcheck" / "keras.py").read_text()
    init = next(
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == "__init__"
    )
    names = [a.arg for a in init.args.args[1:] + init.args.kwonlyargs]
    for name in names:
        assert f"{name}=" in section or f"`{name}`" in section, name
    assert "tfpcheck.keras.CheckCallback(" in section
    assert "examples/broadcast_bug.ipynb" in section
    assert (ROOT / "examples" / "broadcast_bug.ipynb").exists()
    for member in ("where", "distribution", "in_loss", "at_1", "at_n", "to_dict()"):
        assert member in section, member
    assert "tfpcheck shapes PATH" in README
