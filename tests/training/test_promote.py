"""The yearly cycle on a real MLflow store (sqlite): the gate refuses, decisions are recorded,
``--no-register`` leaves the registry alone, and every run carries its provenance."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from features.contract import validate_dataset, write_dataset
from features.synth import synthesise
from tests.conftest import SMALL_DATA_GATE
from training.decisions import DECISION_PREFIX, AliasMove
from training.gate import GateBounds
from training.pipeline import TrainingOptions, train_and_register
from training.registry import CHALLENGER, CHAMPION

FAST = TrainingOptions(folds=2, challengers=False, **SMALL_DATA_GATE)
FEATURES = Path(__file__).resolve().parents[2] / "features"


@pytest.fixture(scope="module")
def cycle(tiny_dataset, tmp_path_factory):
    """A registry after a first training on 20,000 persons and one on the issue's 5,000."""
    root = tmp_path_factory.mktemp("cycle")
    store = {"tracking_uri": f"sqlite:///{root}/mlflow.db", "artifact_root": str(root / "art")}
    data = write_dataset(tiny_dataset, root / "tiny")
    first = train_and_register(tiny_dataset, options=FAST, data_path=str(data), **store)
    small = validate_dataset(synthesise(5000, 3), training=True)
    second = train_and_register(small, options=FAST, **store)
    return {"root": root, "data": data, "first": first, "second": second, **store}


def ptb(cycle, *args: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "MLFLOW_TRACKING_URI": cycle["tracking_uri"],
        "PTB_ARTIFACT_ROOT": cycle["artifact_root"],
        "PTB_AUDIT_LOG": str(cycle["root"] / "audit.jsonl"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "ptb", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=cycle["root"],
    )


def registry_state(uri: str) -> tuple[dict, dict]:
    """Every version's tags and every alias: what no refused or unregistered step may change."""
    client = MlflowClient(uri, registry_uri=uri)
    versions = {str(v.version): dict(v.tags) for v in client.search_model_versions("name='ptb'")}
    aliases = client.get_registered_model("ptb").aliases
    return versions, {alias: str(version) for alias, version in aliases.items()}


def test_first_training_crowns_the_2026_version_and_records_why(cycle):
    first = cycle["first"]
    champion = first.versions[CHALLENGER]
    assert [(m.alias, m.to_version) for m in first.moves] == [
        (CHALLENGER, champion),
        (CHAMPION, champion),
        ("incumbent", first.versions["incumbent"]),
        ("fine_bands", first.versions["fine_bands"]),  # evidence: an alias, never the champion
    ]
    tags = MlflowClient(cycle["tracking_uri"]).get_model_version("ptb", champion).tags
    recorded = [AliasMove.from_json(v) for k, v in tags.items() if k.startswith(DECISION_PREFIX)]
    crowned = next(m for m in recorded if m.alias == CHAMPION)
    assert crowned.from_version is None and crowned.reason == "test on small synthetic data"
    assert crowned.bounds["min_level_persons"] == 0 and "training gate passed" in crowned.gate
    assert tags["ptb.gate.training.passed"] == "true"


def test_the_5000_person_model_is_refused_and_the_refusal_recorded(cycle):
    small = cycle["second"].versions[CHALLENGER]
    before = registry_state(cycle["tracking_uri"])[1]
    done = ptb(cycle, "promote", small, "--snapshot", str(cycle["data"]))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"version {small} not promoted" in done.stderr
    assert "centrality=6 (0)" in done.stderr and "data_size" in done.stderr
    assert "Traceback" not in done.stderr
    versions, aliases = registry_state(cycle["tracking_uri"])
    assert aliases == before
    assert versions[small]["ptb.gate.promotion.passed"] == "false"
    assert versions[small]["ptb.gate.promotion.level_support"].startswith("FAIL")
    client = MlflowClient(cycle["tracking_uri"])
    run_id = client.get_model_version("ptb", small).run_id
    reports = {a.path for a in client.list_artifacts(run_id, "gate")}
    assert any(p.startswith("gate/promotion-") and p.endswith(".json") for p in reports)


def test_loosened_bounds_need_a_reason_and_the_move_is_recorded_everywhere(cycle):
    incumbent = cycle["first"].versions["incumbent"]
    champion = registry_state(cycle["tracking_uri"])[1][CHAMPION]
    loose = ("--min-ratio", "0.1", "--max-ratio", "5", "--min-level-persons", "0")
    snapshot = ("--snapshot", str(cycle["data"]))
    refused = ptb(cycle, "promote", incumbent, *loose, *snapshot)
    assert refused.returncode == 1 and "bounds loosened without --reason" in refused.stderr
    assert registry_state(cycle["tracking_uri"])[1][CHAMPION] == champion

    reason = "rehearsal: model 0 as a fallback"
    done = ptb(cycle, "promote", incumbent, *loose, *snapshot, "--reason", reason)
    assert done.returncode == 0, done.stderr
    assert f"champion is now ptb version {incumbent} (was {champion})" in done.stdout
    versions, aliases = registry_state(cycle["tracking_uri"])
    assert aliases[CHAMPION] == incumbent
    moves = {
        v: AliasMove.from_json(value)
        for v, tags in versions.items()
        for key, value in tags.items()
        if key.startswith(DECISION_PREFIX) and reason in value
    }
    assert set(moves) == {incumbent, champion}  # on the version taking and the one leaving
    move = moves[incumbent]
    assert (move.alias, move.from_version, move.to_version) == (CHAMPION, champion, incumbent)
    assert move.bounds["min_ratio"] == 0.1 and move.bounds["max_ratio"] == 5
    assert "@" in move.by and move.command.startswith("ptb promote")
    assert json.loads(versions[incumbent]["ptb.gate.promotion.bounds"])["max_ratio"] == 5
    assert versions[incumbent]["ptb.gate.promotion.reason"] == reason
    audit = [json.loads(line) for line in (cycle["root"] / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["event"] == "alias_move" and audit[-1]["reason"] == reason

    lineage = ptb(cycle, "history")
    assert lineage.returncode == 0, lineage.stderr
    assert reason in lineage.stdout and "test on small synthetic data" in lineage.stdout


def test_no_register_trains_and_logs_but_leaves_the_registry_untouched(cycle, tiny_dataset):
    before = registry_state(cycle["tracking_uri"])
    outcome = train_and_register(
        tiny_dataset,
        options=TrainingOptions(folds=2, challengers=False, register=False),
        tracking_uri=cycle["tracking_uri"],
        artifact_root=cycle["artifact_root"],
    )
    assert outcome.versions == {} and outcome.moves == ()
    assert registry_state(cycle["tracking_uri"]) == before
    run = MlflowClient(cycle["tracking_uri"]).get_run(outcome.parent_run_id)
    assert run.info.status == "FINISHED" and run.data.tags["ptb.registered"].startswith("no")


def test_a_candidate_failing_the_data_checks_does_not_take_challenger(cycle):
    small = validate_dataset(synthesise(5000, 3), training=True)
    _, aliases = registry_state(cycle["tracking_uri"])
    outcome = train_and_register(
        small,
        options=TrainingOptions(folds=2, challengers=False),
        tracking_uri=cycle["tracking_uri"],
        artifact_root=cycle["artifact_root"],
    )
    assert outcome.moves == ()
    assert "level_support" in outcome.held_back[CHALLENGER]
    versions, after = registry_state(cycle["tracking_uri"])
    assert after == aliases  # registered for the record, but no alias moved
    assert versions[outcome.versions[CHALLENGER]]["ptb.gate.training.passed"] == "false"


def test_every_run_records_its_provenance(cycle):
    client = MlflowClient(cycle["tracking_uri"])
    first = cycle["first"]
    parent = client.get_run(first.parent_run_id)
    tags = parent.data.tags
    assert len(tags["mlflow.source.git.commit"]) == 40  # the tests run from a checkout
    assert tags["ptb.source"].startswith("ptb ") and tags["ptb.data_path"] == str(cycle["data"])
    assert tags["ptb.data_fingerprint"] == parent.data.params["data_fingerprint"]
    assert "ptb.command" in tags and parent.data.params["challengers"] == "False"
    packages = Path(
        mlflow.artifacts.download_artifacts(
            run_id=parent.info.run_id,
            artifact_path="environment/packages.txt",
            tracking_uri=cycle["tracking_uri"],
        )
    ).read_text()
    assert f"statsmodels=={importlib.metadata.version('statsmodels')}" in packages
    (dataset_input,) = parent.inputs.dataset_inputs
    profile = {tag.key: tag.value for tag in dataset_input.tags}
    assert (
        profile["rows_persons"] == "20000"
        and profile["fingerprint"] == tags["ptb.data_fingerprint"]
    )
    for key in (
        "age_mix",
        "mean_cost_nok",
        "copayment",
        "refugee_share",
        "kommuner",
        "grunnkretser",
    ):
        assert profile[key] not in ("", "None")
    version = client.get_model_version("ptb", first.versions[CHALLENGER])
    assert (
        version.description.startswith("the 2026 rule trained")
        and "20,000 persons" in version.description
    )
    # The run a version points to carries the same record: source, command, data.
    model_run = client.get_run(version.run_id)
    for key in ("ptb.source", "ptb.command", "ptb.data_path", "mlflow.source.git.commit"):
        assert model_run.data.tags[key] == tags[key]
    (model_input,) = model_run.inputs.dataset_inputs
    assert {tag.key: tag.value for tag in model_input.tags} == profile


def test_pyfunc_requirements_cover_every_distribution_features_imports(cycle):
    mlflow.set_tracking_uri(cycle["tracking_uri"])
    mlflow.set_registry_uri(cycle["tracking_uri"])
    uri = f"models:/ptb/{cycle['first'].versions[CHALLENGER]}"
    requirements_file = mlflow.pyfunc.get_model_dependencies(uri)
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in Path(requirements_file).read_text().splitlines()
        if "==" in line
    }
    imported = set()
    for module in FEATURES.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    # What the served model really loads: the features modules its entry point imports.
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, features.pyfunc_model; print(*sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
    ).stdout.split()
    imported &= {name.split(".")[0] for name in loaded}
    imported -= {"features"}
    distributions = importlib.metadata.packages_distributions()
    missing = {
        name
        for name in imported
        if name in distributions
        and not {d.lower().replace("_", "-") for d in distributions[name]} & pinned
    }
    assert not missing, missing
    assert {"statsmodels", "scikit-learn"} <= pinned


def test_every_training_logs_a_model_card_and_a_comparison_with_the_champion(cycle):
    client = MlflowClient(cycle["tracking_uri"])
    run_id = cycle["second"].run_ids["model_2026"]
    files = {a.path for a in client.list_artifacts(run_id)}
    assert {"model_card.md", "compare"} <= files
    compared = {a.path for a in client.list_artifacts(run_id, "compare")}
    assert "compare/against_champion_version_1.html" in compared
    card = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="model_card.md", tracking_uri=cycle["tracking_uri"]
        )
    ).read_text()
    for heading in ("## Data", "## Gate", "## Comparison with the champion", "## Known limits"):
        assert heading in card
    assert "against version 1" in card and "lowest decile" in card and "ptb" in card


def test_ptb_compare_prints_the_changes_and_writes_the_report(cycle):
    small = cycle["second"].versions[CHALLENGER]
    first = cycle["first"].versions[CHALLENGER]
    done = ptb(
        cycle, "compare", first, small, "--snapshot", str(cycle["data"]), "--out", "cmp.html"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"version {small} against version {first}" in done.stdout
    assert "levels changed beyond noise" in done.stdout and "lists:" in done.stdout
    assert "data drift" in done.stdout
    assert (cycle["root"] / "cmp.html").read_text().count("data:image/png") == 3


def test_the_first_version_is_crowned_only_once_it_has_priced_the_snapshot(tiny_dataset, tmp_path):
    thin_levels = GateBounds(min_level_persons=0)  # tiny data; the snapshot is still required
    options = TrainingOptions(folds=2, challengers=False, models=("model_2026",),
                              gate=thin_levels, reason="test on small synthetic data")  # fmt: skip
    unpriced = {"tracking_uri": f"sqlite:///{tmp_path}/a.db", "artifact_root": str(tmp_path / "a")}
    outcome = train_and_register(tiny_dataset, options=options, **unpriced)
    assert CHAMPION not in {move.alias for move in outcome.moves}
    assert "no registry snapshot was priced" in outcome.held_back[CHAMPION]
    assert "ptb promote VERSION --snapshot DIR" in outcome.held_back[CHAMPION]
    versions, aliases = registry_state(unpriced["tracking_uri"])
    assert CHAMPION not in aliases and aliases[CHALLENGER] == outcome.versions[CHALLENGER]
    assert "ptb.gate.promotion.passed" not in versions[outcome.versions[CHALLENGER]]

    priced = {"tracking_uri": f"sqlite:///{tmp_path}/b.db", "artifact_root": str(tmp_path / "b")}
    crowned = train_and_register(tiny_dataset, options=options, snapshot=tiny_dataset, **priced)
    versions, aliases = registry_state(priced["tracking_uri"])
    assert aliases[CHAMPION] == crowned.versions[CHALLENGER]
    # The crowning is the promotion on record that reload requires.
    record = versions[aliases[CHAMPION]]
    assert record["ptb.gate.promotion.passed"] == "true"
    assert record["ptb.gate.promotion.snapshot_pricing"].startswith("pass")
