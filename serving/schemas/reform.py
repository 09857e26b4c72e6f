"""The answer of ``GET /v1/whatif/reform``: the 2026 reform step by step as a waterfall."""

from __future__ import annotations

from datetime import date
from typing import Literal

import pandas as pd
from pydantic import BaseModel, Field

from features import reform_steps
from serving.schemas.whatif import ModelUsed


class ReformStepMove(BaseModel):
    """What one step moves over all lists, annual NOK."""

    step: str = Field(description="the step's name, e.g. dampening_off")
    label: str = Field(description="the step in words")
    moved_nok: float = Field(description="net NOK the step moves (about 0 if budget neutral)")
    gains_nok: float = Field(description="NOK gained by the lists that gain")
    losses_nok: float = Field(description="NOK lost by the lists that lose (negative)")
    gaining_lists: int
    losing_lists: int


class WaterfallRow(BaseModel):
    """One list or one group of lists: the basistilskudd before and after, and each step."""

    key: str = Field(description="the list id, kommune number, class, size band or form")
    name: str | None = Field(None, description="the kommune's name, for lists and kommuner")
    centrality: int | None = Field(None, description="the practice kommune's class")
    size_band: str | None = Field(None, description="the practice kommune's size band")
    form_of_practice: str | None = Field(None, description="the GP's form of practice")
    lists: int
    persons: int
    before_nok: float = Field(description="the whole basistilskudd under model 0")
    after_nok: float = Field(description="the whole basistilskudd under the 2026 rule")
    change_nok: float
    steps_nok: dict[str, float] = Field(description="NOK each step moves, in step order")


class ReformWaterfall(BaseModel):
    """Model 0 to the 2026 rule one change at a time, each step priced with the weights of
    its own calibration; the steps add up to every list's change (rounding aside)."""

    model: ModelUsed = Field(description="the model version whose step calibrations priced it")
    scheme_date: date = Field(description="the date grunntilskudd's agreement months count to")
    reference_release: str | None = Field(
        None, description="the reference release every step was priced with (the snapshot's)"
    )
    persons: int
    lists: int
    before_total_nok: float
    after_total_nok: float
    change_total_nok: float
    steps: list[ReformStepMove]
    centrality: list[WaterfallRow]
    size_band: list[WaterfallRow]
    form_of_practice: list[WaterfallRow]
    kommuner: list[WaterfallRow]
    list_rows: list[WaterfallRow] | None = Field(
        None, description="every list, in list_id order (unless ?lists=false)"
    )
    period: Literal["annual"] = "annual"
    currency: Literal["NOK"] = "NOK"


def _rows(table: pd.DataFrame, steps: list[str], key: str, **columns: str) -> list[dict]:
    """Group or list rows as plain dicts, money rounded to øre."""
    money = table[["before_nok", "after_nok", "change_nok", *steps]].round(2)
    out = pd.DataFrame(
        {
            "key": table[key].astype(str).to_numpy(),
            "lists": table["lists"].to_numpy() if "lists" in table else 1,
            "persons": table["persons"].to_numpy(),
            "before_nok": money["before_nok"].to_numpy(),
            "after_nok": money["after_nok"].to_numpy(),
            "change_nok": money["change_nok"].to_numpy(),
        }
    )
    for field, column in columns.items():
        out[field] = table[column].to_numpy()
    records = out.to_dict(orient="records")
    moved = money[steps].to_dict(orient="records")
    for record, steps_nok in zip(records, moved, strict=True):
        record["steps_nok"] = steps_nok
    return records


def reform_answer(
    tables: dict[str, pd.DataFrame],
    model: ModelUsed,
    scheme_date: date,
    *,
    lists: bool,
    reference_release: str | None = None,
) -> ReformWaterfall:
    """The API's answer from ``features.reform.waterfall``'s tables."""
    moves = tables["steps"]
    steps = moves["step"].tolist()
    labels = {step.name: step.label for step in reform_steps()}
    table = tables["lists"]
    before, after = float(table["before_nok"].sum()), float(table["after_nok"].sum())
    kommune = {"name": "kommune_name", "centrality": "centrality"}
    list_rows = None
    if lists:
        ordered = table.sort_values("list_id", kind="stable")
        list_rows = _rows(
            ordered,
            steps,
            "list_id",
            name="kommune_name",
            centrality="centrality",
            size_band="size_band",
            form_of_practice="form_of_practice",
        )
    return ReformWaterfall.model_validate(
        {
            "model": model,
            "scheme_date": scheme_date,
            "reference_release": reference_release,
            "persons": int(table["persons"].sum()),
            "lists": len(table),
            "before_total_nok": round(before, 2),
            "after_total_nok": round(after, 2),
            "change_total_nok": round(after - before, 2),
            "steps": [
                {**row, "label": labels.get(row["step"], row["step"])}
                for row in moves.round(2).to_dict(orient="records")
            ],
            "centrality": _rows(tables["centrality"], steps, "centrality"),
            "size_band": _rows(tables["size_band"], steps, "size_band"),
            "form_of_practice": _rows(tables["form_of_practice"], steps, "form_of_practice"),
            "kommuner": _rows(tables["kommune"], steps, "kommune", **kommune),
            "list_rows": list_rows,
        }
    )
