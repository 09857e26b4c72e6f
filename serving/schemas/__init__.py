"""Request and response models of the API, one module per resource; each field carries its
constraints.

- ``common``: what every request model shares (unknown fields refused, model version names);
- ``grants``: a person, a list, the settlement export's rows;
- ``model``: the model, its weight table and scheme;
- ``whatif``: a what-if's answer;
- ``admin``: a reload's request and answer;
- ``health``: the probes;
- ``release``: the reference release an answer was priced with, and old codes it mapped;
- ``errors``: the one error body.
"""

from serving.schemas.admin import ModelCheck, ReloadIn, ReloadResult
from serving.schemas.common import VERSION_PATTERN, ModelRef, StrictRequest
from serving.schemas.errors import ErrorBody, ErrorDetail
from serving.schemas.grants import (
    MAX_LIST_PERSONS,
    Basistilskudd,
    ListGrant,
    ListGrantRow,
    ListIn,
    ListPersonIn,
    PersonGrant,
    PersonIn,
)
from serving.schemas.health import Health, Readiness, WorkerModel
from serving.schemas.model import ModelInfo, SchemeInfo, WeightRow
from serving.schemas.release import CodeChangeOut, RateBasis, ReleaseInfo
from serving.schemas.whatif import (
    CentralityChange,
    HistogramBin,
    KommuneChange,
    ListChange,
    ListPage,
    ModelUsed,
    Quantile,
    Redistribution,
    ScenarioScheme,
)

__all__ = [
    "Basistilskudd",
    "MAX_LIST_PERSONS",
    "VERSION_PATTERN",
    "CentralityChange",
    "CodeChangeOut",
    "ErrorBody",
    "ErrorDetail",
    "Health",
    "HistogramBin",
    "KommuneChange",
    "ListChange",
    "ListGrant",
    "ListGrantRow",
    "ListIn",
    "ListPage",
    "ListPersonIn",
    "ModelCheck",
    "ModelInfo",
    "ModelRef",
    "ModelUsed",
    "PersonGrant",
    "PersonIn",
    "Quantile",
    "RateBasis",
    "Readiness",
    "Redistribution",
    "ReloadIn",
    "ReleaseInfo",
    "ReloadResult",
    "ScenarioScheme",
    "SchemeInfo",
    "StrictRequest",
    "WeightRow",
    "WorkerModel",
]
