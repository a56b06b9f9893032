"""Configuration: [tool.tfpcheck] in real pyproject.toml files, on real fixture models."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, model_path

from tfpcheck import config as configuration

BROKEN = "k3_softmax_from_logits.keras"  # TFP202 (softmax output, from_logits=True compiled)
CLEAN = "k3_softmax_probs.keras"  # the same with from_logits=False


def make_repo(root: Path, pyproject: str | None, models: dict[str, str] | None = None) -> Path:
    """A repository (it has .git, so discovery stops there) with a pyproject.toml and models."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".git").mkdir()
    if pyproject is not None:
        (root / "pyproject.toml").write_text(textwrap.dedent(pyproject))
    for relative, fixture in (models or {}).items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(model_path(fixture), root / relative)
    return root


def codes(result) -> dict[str, list[str]]:
    return {f["path"]: [x["code"] for x in f["findings"]] for f in result.json()["files"]}


def test_ignore_in_config_silences_the_rule(run_cli, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo(tmp_path / "repo", None, {"model.keras": BROKEN})
    monkeypatch.chdir(repo)
    before = run_cli("--static", "--format", "json", "model.keras")
    assert before.exit_code == 1
    assert codes(before) == {"model.keras": ["TFP202"]}

    (repo / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n[tool.tfpcheck]\nstatic = true\nignore = ["TFP202"]\n'
        'format = "json"\n'
    )
    after = run_cli("model.keras")
    assert after.exit_code == 0
    assert codes(after) == {"model.keras": []}


def test_unknown_key_names_the_key_and_the_file(run_cli, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo(
        tmp_path / "repo", '[tool.tfpcheck]\nignor = ["TFP202"]\n', {"model.keras": BROKEN}
    )
    monkeypatch.chdir(repo)
    result = run_cli("--static", "model.keras")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "tfpcheck: error: pyproject.toml: [tool.tfpcheck] unknown key 'ignor' "
        "(did you mean 'ignore'?)\n"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('batch-size = "x"', 'batch-size = "x": must be an integer >= 2'),
        ("batch-size = 1", "batch-size = 1: must be an integer >= 2"),
        ("batch-size = true", "batch-size = true: must be an integer >= 2"),
        ('fail-on = "fatal"', 'fail-on = "fatal": must be one of "error", "warning", "info"'),
        ("target-shape = [0]", "target-shape = [0]: must be a positive integer or a list"),
        ('target-shape = "28,28"', 'target-shape = "28,28": must be a positive integer'),
        ("classes = 1", "classes = 1: must be an integer >= 2"),
        ('select = "TFP2"', 'select = "TFP2": must be a list of rule code prefixes'),
        ('ignore = ["TPF202"]', "entry 'TPF202' is not a rule code prefix"),
        ('format = "xml"', 'format = "xml": must be one of "text", "json"'),
        ("timeout = 0", "timeout = 0: must be a number of seconds > 0"),
        ('cache = "no"', 'cache = "no": must be true or false'),
        ('static = "yes"', 'static = "yes": must be true or false'),
        ('device = "tpu"', 'device = "tpu": must be one of "cpu", "gpu"'),
        ('require-probe = "yes"', 'require-probe = "yes": must be true or false'),
        ('loss = "crossentropy"', "loss = \"crossentropy\": unknown loss 'crossentropy'"),
        ("models = 3", "'models' must be an array of tables"),
    ],
)
def test_bad_values_name_the_key_and_the_file(
    run_cli, tmp_path: Path, monkeypatch, line: str, message: str
) -> None:
    repo = make_repo(tmp_path / "repo", f"[tool.tfpcheck]\n{line}\n", {"model.keras": BROKEN})
    monkeypatch.chdir(repo)
    result = run_cli("--static", "model.keras")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("tfpcheck: error: pyproject.toml: ")
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_invalid_toml_is_one_line(run_cli, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo(tmp_path / "repo", "[tool.tfpcheck]\nignore = [TFP202\n")
    monkeypatch.chdir(repo)
    result = run_cli("--static", model_path(BROKEN))
    assert result.exit_code == 2
    assert result.stderr.startswith("tfpcheck: error: pyproject.toml: not valid TOML (")
    assert "Traceback" not in result.stderr


def test_command_line_overrides_config(run_cli, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo(
        tmp_path / "repo",
        """\
        [tool.tfpcheck]
        static = true
        format = "json"
        loss = "cce"
        from-logits = true
        ignore = ["TFP204"]
        """,
        {"probs.keras": CLEAN, "broken.keras": BROKEN},
    )
    monkeypatch.chdir(repo)
    # The config's loss (cce with from_logits=True) makes the softmax model wrong ...
    configured = run_cli("probs.keras")
    assert configured.exit_code == 1
    finding = configured.json()["files"][0]["findings"][0]
    assert (finding["code"], finding["where"]["layer"]) == ("TFP202", "probs")
    assert finding["evidence"]["from_logits"] is True
    # ... and the command line's loss wins over it.
    assert codes(run_cli("--loss", "compiled", "probs.keras")) == {"probs.keras": []}
    # --ignore on the command line replaces the configured list; --format too.
    assert codes(run_cli("--ignore", "TFP2", "probs.keras")) == {"probs.keras": []}
    text = run_cli("--format", "text", "--loss", "compiled", "broken.keras")
    assert text.exit_code == 1
    assert "TFP202 error [double-softmax]" in text.stdout


def test_discovered_from_a_subdirectory(run_cli, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo(
        tmp_path / "repo",
        '[tool.tfpcheck]\nstatic = true\nignore = ["TFP202"]\n',
        {"models/model.keras": BROKEN},
    )
    deeper = repo / "src" / "pkg"
    deeper.mkdir(parents=True)
    # A pyproject.toml without [tool.tfpcheck] on the way up is passed over (a subproject).
    (repo / "src" / "pyproject.toml").write_text('[project]\nname = "sub"\n')
    monkeypatch.chdir(deeper)
    assert configuration.discover(deeper) == repo / "pyproject.toml"
    result = run_cli("../../models/model.keras")
    assert result.exit_code == 0
    assert "0 errors" in result.stdout


def test_discovery_stops_at_the_repository_root(run_cli, tmp_path: Path, monkeypatch) -> None:
    outer = tmp_path / "outer"
    outer.mkdir()
    (outer / "pyproject.toml").write_text('[tool.tfpcheck]\nignore = ["TFP202"]\n')
    inner = make_repo(outer / "inner", None, {"model.keras": BROKEN})
    monkeypatch.chdir(inner)
    assert configuration.discover(inner) is None
    result = run_cli("--static", "--format", "json", "model.keras")
    assert result.exit_code == 1
    assert codes(result) == {"model.keras": ["TFP202"]}


def test_config_option_reads_a_tfpcheck_toml(run_cli, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo(
        tmp_path / "repo", '[tool.tfpcheck]\nignore = ["TFP202"]\n', {"model.keras": BROKEN}
    )
    other = tmp_path / "settings"
    other.mkdir()
    (other / "tfpcheck.toml").write_text(
        'static = true\nfail-on = "info"\nformat = "json"\nselect = ["TFP2"]\n'
    )
    monkeypatch.chdir(repo)
    result = run_cli("--config", str(other / "tfpcheck.toml"), "model.keras")
    # The discovered pyproject.toml (which ignores TFP202) is not read.
    assert result.exit_code == 1
    assert codes(result) == {"model.keras": ["TFP202"]}


def test_config_option_reads_a_pyproject_elsewhere(run_cli, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo(tmp_path / "repo", None, {"model.keras": BROKEN})
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "pyproject.toml").write_text('[tool.tfpcheck]\nstatic = true\nignore = ["TFP2"]\n')
    monkeypatch.chdir(repo)
    result = run_cli("--config", "../shared/pyproject.toml", "model.keras")
    assert result.exit_code == 0


def test_config_option_errors(run_cli, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo(tmp_path / "repo", None, {"model.keras": BROKEN})
    monkeypatch.chdir(repo)
    missing = run_cli("--config", "nope.toml", "model.keras")
    assert missing.exit_code == 2
    assert missing.stderr == "tfpcheck: error: --config nope.toml: no such file\n"

    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n')
    no_table = run_cli("--config", "pyproject.toml", "model.keras")
    assert no_table.stderr == "tfpcheck: error: pyproject.toml: has no [tool.tfpcheck] table\n"

    (repo / "custom.toml").write_text("[tool.tfpcheck]\nstatic = true\n")
    nested = run_cli("--config", "custom.toml", "model.keras")
    assert nested.exit_code == 2
    assert "custom.toml: unknown key 'tool' (only a file named pyproject.toml" in nested.stderr

    both = run_cli("--config", "custom.toml", "--isolated", "model.keras")
    assert both.exit_code == 2
    assert "--config and --isolated" in both.stderr


def test_isolated_ignores_configuration(run_cli, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo(
        tmp_path / "repo",
        '[tool.tfpcheck]\nignore = ["TFP202"]\nbogus = 1\n',
        {"model.keras": BROKEN},
    )
    monkeypatch.chdir(repo)
    assert run_cli("--static", "model.keras").exit_code == 2  # bogus key
    result = run_cli("--isolated", "--static", "--format", "json", "model.keras")
    assert result.exit_code == 1
    assert codes(result) == {"model.keras": ["TFP202"]}


MODELS_CONFIG = """\
[tool.tfpcheck]
static = true
format = "json"

[[tool.tfpcheck.models]]
path = "models/*.keras"
loss = "cce"
from-logits = true

[[tool.tfpcheck.models]]
path = "models/quiet_*.keras"
ignore = ["TFP202"]
"""


def test_model_tables_apply_to_matching_paths(run_cli, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo(
        tmp_path / "repo",
        MODELS_CONFIG,
        {
            "models/probs.keras": CLEAN,
            "models/quiet_probs.keras": CLEAN,
            "elsewhere/probs.keras": CLEAN,
        },
    )
    monkeypatch.chdir(repo)
    # Paths as a pre-commit hook passes them: relative to the repository root.
    result = run_cli("models/probs.keras", "models/quiet_probs.keras", "elsewhere/probs.keras")
    assert result.exit_code == 1
    assert codes(result) == {
        "models/probs.keras": ["TFP202"],  # the table's loss: cce with from_logits=True
        "models/quiet_probs.keras": [],  # both tables: the second one ignores TFP202
        "elsewhere/probs.keras": [],  # no table: its compiled loss, which is right
    }
    # The command line's loss overrides the table's.
    overridden = run_cli("--loss", "compiled", "models/probs.keras")
    assert codes(overridden) == {"models/probs.keras": []}


def test_model_tables_match_from_a_subdirectory(run_cli, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo(tmp_path / "repo", MODELS_CONFIG, {"models/probs.keras": CLEAN})
    monkeypatch.chdir(repo / "models")
    assert codes(run_cli("probs.keras")) == {"probs.keras": ["TFP202"]}


def test_no_paths_checks_the_configured_models(run_cli, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo(
        tmp_path / "repo",
        MODELS_CONFIG
        + '\n[[tool.tfpcheck.models]]\npath = "saved/**/*.keras"\n'
        + '\n[[tool.tfpcheck.models]]\npath = "missing/*.h5"\n',
        {
            "models/probs.keras": CLEAN,
            "models/quiet_probs.keras": CLEAN,
            "saved/a/b/broken.keras": BROKEN,
            "saved/top.keras": CLEAN,
            "elsewhere/probs.keras": CLEAN,
        },
    )
    monkeypatch.chdir(repo)
    result = run_cli()
    assert result.exit_code == 1
    assert codes(result) == {
        "models/probs.keras": ["TFP202"],
        "models/quiet_probs.keras": [],
        "saved/a/b/broken.keras": ["TFP202"],
        "saved/top.keras": [],
    }
    assert result.stderr == (
        "tfpcheck: warning: pyproject.toml: [[tool.tfpcheck.models]] #4 "
        '(path "missing/*.h5") matches no file\n'
    )
    # From a subdirectory the same models are found, shown by their absolute paths.
    monkeypatch.chdir(repo / "elsewhere")
    from_below = run_cli()
    assert sorted(codes(from_below)) == [
        str(repo / "models/probs.keras"),
        str(repo / "models/quiet_probs.keras"),
        str(repo / "saved/a/b/broken.keras"),
        str(repo / "saved/top.keras"),
    ]


def test_no_paths_and_no_models_is_a_usage_error(run_cli, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo(tmp_path / "repo", None)
    monkeypatch.chdir(repo)
    bare = run_cli("--static")
    assert bare.exit_code == 2
    assert bare.stderr.startswith("tfpcheck: error: no PATH given: tfpcheck model.keras")

    (repo / "pyproject.toml").write_text("[tool.tfpcheck]\nstatic = true\n")
    configured = run_cli()
    assert configured.exit_code == 2
    assert configured.stderr.startswith(
        "tfpcheck: error: no PATH given and pyproject.toml lists no models"
    )

    (repo / "pyproject.toml").write_text('[[tool.tfpcheck.models]]\npath = "none/*.keras"\n')
    empty = run_cli("--static")
    assert empty.exit_code == 2
    assert empty.stderr.splitlines()[-1] == (
        "tfpcheck: error: no PATH given and the model tables of pyproject.toml match no file"
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('path = "m/*.keras"\nlose = "nll"', "unknown key 'lose' (did you mean 'loss'?)"),
        ('path = "m/*.keras"\nformat = "json"', "'format' applies to the whole run"),
        ('loss = "nll"', "has no 'path'"),
        ('path = "m/*.keras"\ntarget-shape = [1, -2]', "target-shape = [1, -2]: must be"),
        ('path = "m/[z-a].keras"', '(path "m/[z-a].keras"): not a valid glob (bad character'),
    ],
)
def test_bad_model_tables(run_cli, tmp_path: Path, monkeypatch, table: str, message: str) -> None:
    repo = make_repo(tmp_path / "repo", f"[[tool.tfpcheck.models]]\n{table}\n")
    monkeypatch.chdir(repo)
    result = run_cli("--static", model_path(BROKEN))
    assert result.exit_code == 2
    assert result.stderr.startswith("tfpcheck: error: pyproject.toml: [[tool.tfpcheck.models]] #1")
    assert message in result.stderr


def test_relative_loss_file_resolves_against_the_pyproject(
    run_cli, tmp_path: Path, monkeypatch
) -> None:
    repo = make_repo(
        tmp_path / "repo",
        '[tool.tfpcheck]\nstatic = true\nformat = "json"\n'
        'loss = "training/losses.py:mvn_full_cov_nll"\n',
        {"models/dense4.keras": "k3_mvn_dense4.keras"},
    )
    (repo / "training").mkdir()
    shutil.copy(FIXTURES / "losses.py", repo / "training" / "losses.py")
    monkeypatch.chdir(repo / "models")
    result = run_cli("dense4.keras")
    findings = result.json()["files"][0]["findings"]
    assert [f["code"] for f in findings] == ["TFP304"]
    assert findings[0]["where"]["file"] == str(repo / "training" / "losses.py")
    assert findings[0]["where"]["function"] == "mvn_full_cov_nll"


def test_values_as_the_command_line_has_them(tmp_path: Path) -> None:
    file = tmp_path / "pyproject.toml"
    file.write_text(
        textwrap.dedent(
            """\
            [tool.tfpcheck]
            data = "data/train.npz"
            custom-objects = "src/layers.py"
            target-shape = 3
            timeout = 90
            cache = false
            select = ["tfp1", "TFP2"]

            [[tool.tfpcheck.models]]
            path = "factories/flipout.py:build_model"
            num-examples = 1000
            custom-objects = "mypkg.layers"
            target-shape = [28, 28]
            """
        )
    )
    found = configuration.read_config(file)
    assert found.values == {
        "data": str(tmp_path / "data/train.npz"),
        "custom_objects": str(tmp_path / "src/layers.py"),
        "target_shape": "3",
        "timeout": 90.0,
        "no_cache": True,
        "select": ["TFP1", "TFP2"],
    }
    defaults = {"target_shape": None, "num_examples": None, "timeout": None, "no_cache": False}
    spec = f"{tmp_path}/factories/flipout.py:build_model"
    planned = configuration.plan([spec, "other.keras"], defaults, {"timeout"}, found)
    assert planned.values["timeout"] is None  # given on the command line: kept
    assert planned.values["no_cache"] is True
    assert set(planned.per_path) == {spec}
    assert planned.per_path[spec]["num_examples"] == 1000
    assert planned.per_path[spec]["target_shape"] == "28,28"
    assert planned.per_path[spec]["custom_objects"] == "mypkg.layers"


def test_glob_regex() -> None:
    regex = configuration.glob_regex
    assert regex("models/*.keras").match("models/a.keras")
    assert not regex("models/*.keras").match("models/sub/a.keras")
    assert regex("**/*.keras").match("a.keras")
    assert regex("**/*.keras").match("x/y/a.keras")
    assert regex("m/**").match("m/x/y.h5")
    assert regex("m/model_?.h5").match("m/model_1.h5")
    assert regex("m/[ab].h5").match("m/b.h5")
    assert not regex("m/[!ab].h5").match("m/b.h5")
    assert not regex("*.keras").match("x.keras.bak")


def test_readme_configuration_example_is_valid(tmp_path: Path) -> None:
    section = (ROOT / "README.md").read_text().split("## Configuration", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "pyproject.toml").write_text(example)
    found = configuration.read_config(tmp_path / "pyproject.toml")
    assert found.values == {"batch_size": 16, "ignore": ["TFP107"], "fail_on": "warning"}
    assert [t.pattern for t in found.models] == [
        "models/classifier_*.keras",
        "models/regression.keras",
        "training/bayes.py:build_model",
    ]
    assert found.models[1].values["loss"] == f"{tmp_path}/training/losses.py:normal_nll"
    assert found.models[2].is_factory


def test_from_logits_without_a_loss(run_cli, tmp_path: Path, monkeypatch) -> None:
    repo = make_repo(tmp_path / "repo", "[tool.tfpcheck]\nfrom-logits = true\n")
    monkeypatch.chdir(repo)
    result = run_cli("--static", model_path(CLEAN))
    assert result.exit_code == 2
    assert result.stderr == (
        "tfpcheck: error: from-logits = true in the configuration goes with a Keras loss: "
        'set loss = "cce" (or give --loss) too\n'
    )
    with_loss = run_cli("--static", "--loss", "cce", "--format", "json", model_path(CLEAN))
    assert with_loss.exit_code == 1
    assert [f["code"] for f in with_loss.json()["files"][0]["findings"]] == ["TFP202"]


def test_target_shape_scalar(tmp_path: Path) -> None:
    from tfpcheck.option_values import target_shape as _target_shape

    assert _target_shape("scalar", tmp_path) == "scalar"
    assert _target_shape([], tmp_path) == "scalar"
    assert _target_shape([28, 28], tmp_path) == "28,28"
