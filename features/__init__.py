"""What serving and training share: the data contract, the indicators, the scheme and its money,
the model bundle that prices a person, the errors of the product, and the settings.

- ``contract``: the data set's tables and checks (data contract v1);
- ``person_rows``: persons given as rows (the pyfunc's input) checked with the contract's rules;
- ``csv_cells``: CSV exports quoted by the ``csv`` module, formula-leading text neutralised;
- ``indicators``: persons' indicators (age and sex, health status, education, centrality, ...);
- ``scheme``: the scheme's parameters, tariff, rate and rounding of money;
- ``bundle``: a calibrated model as files, and the one pricing path (``score_features``);
- ``grants``: grants per person and per list from a bundle;
- ``pyfunc``: the bundle as an MLflow pyfunc model; imported on its own (``features.pyfunc``),
  as it loads MLflow;
- ``cost_model`` and ``synth``: the synthetic population the demo and the tests run on;
- ``gate``: the promotion gate's checks on a bundle, shared by promotion and reload;
- ``extracts``: registry extracts to a data set (``ptb build``, DuckDB or Spark); imported on
  its own, as it loads an engine;
- ``errors``: the product's errors, each with the fields it carries;
- ``settings``: the one settings object (``PTB_*``);
"""

from features.bundle import (
    BUNDLE_ARTIFACT,
    MODEL_TAG,
    BundleError,
    ModelBundle,
    PersonScores,
    calibrate_rate,
    mean_expected_cost,
    refugee_supplements,
    score_features,
    weighted_contributions,
)
from features.contract import (
    CONTRACT_VERSION,
    MAX_COPAYMENT_NOK,
    Dataset,
    fingerprint,
    load_dataset,
    read_dataset,
    validate_dataset,
    write_dataset,
)
from features.cost_model import (
    age_cost_curve,
    by_centrality_class,
    draw_costs,
    expected_annual_cost,
    load_parameters,
)
from features.csv_cells import csv_chunks, neutralise, neutralise_frame
from features.errors import (
    AccessDeniedError,
    AuditChainError,
    AuditLogError,
    AuthenticationError,
    BodyTooLargeError,
    ConfigurationError,
    ContractError,
    KeyFileError,
    ModelNotFoundError,
    PermissionDeniedError,
    PromotionRefused,
    PtbError,
    RegistryUnavailableError,
    ReloadInProgressError,
    ReloadRefused,
    RepeatedQueryError,
    ScenarioError,
    ServiceNotReadyError,
    SnapshotMissingError,
    TooManyKeyChecksError,
    UnknownCodeError,
    UnknownQueryError,
    Violation,
)
from features.gate import MIN_LEVEL_PERSONS, GateCheck, level_support, snapshot_pricing
from features.grants import (
    PersonScorer,
    PersonTable,
    Scores,
    apportion_nok,
    list_grants,
    list_totals,
    person_grants,
    write_grants,
)
from features.indicators import (
    PERSON_FIELDS,
    Coded,
    Factor,
    IndicatorConfig,
    PersonColumns,
    ReferenceTables,
    derive_features,
    education_level,
    factors,
    indicator_levels,
    persons_with_practice,
    preset,
)
from features.scheme import (
    SchemeParameters,
    Tariff,
    budget_neutral_rate,
    person_grant,
    round_nok,
)
from features.settings import DEVELOPMENT, Settings
from features.synth import synthesise

__all__ = [
    "BUNDLE_ARTIFACT",
    "MODEL_TAG",
    "CONTRACT_VERSION",
    "MAX_COPAYMENT_NOK",
    "DEVELOPMENT",
    "MIN_LEVEL_PERSONS",
    "PERSON_FIELDS",
    "AccessDeniedError",
    "AuditChainError",
    "AuditLogError",
    "AuthenticationError",
    "BodyTooLargeError",
    "BundleError",
    "Coded",
    "ConfigurationError",
    "ContractError",
    "Dataset",
    "Factor",
    "GateCheck",
    "IndicatorConfig",
    "KeyFileError",
    "ModelBundle",
    "ModelNotFoundError",
    "PermissionDeniedError",
    "PersonColumns",
    "PersonScorer",
    "PersonScores",
    "PersonTable",
    "PromotionRefused",
    "PtbError",
    "ReferenceTables",
    "RegistryUnavailableError",
    "ReloadInProgressError",
    "ReloadRefused",
    "ScenarioError",
    "SchemeParameters",
    "Scores",
    "ServiceNotReadyError",
    "Settings",
    "SnapshotMissingError",
    "Tariff",
    "UnknownCodeError",
    "RepeatedQueryError",
    "TooManyKeyChecksError",
    "UnknownQueryError",
    "Violation",
    "age_cost_curve",
    "apportion_nok",
    "budget_neutral_rate",
    "by_centrality_class",
    "calibrate_rate",
    "csv_chunks",
    "neutralise",
    "neutralise_frame",
    "derive_features",
    "draw_costs",
    "education_level",
    "expected_annual_cost",
    "factors",
    "fingerprint",
    "indicator_levels",
    "level_support",
    "list_grants",
    "list_totals",
    "load_dataset",
    "load_parameters",
    "mean_expected_cost",
    "person_grant",
    "person_grants",
    "persons_with_practice",
    "preset",
    "read_dataset",
    "refugee_supplements",
    "round_nok",
    "score_features",
    "snapshot_pricing",
    "synthesise",
    "validate_dataset",
    "weighted_contributions",
    "write_dataset",
    "write_grants",
]
