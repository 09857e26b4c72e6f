"""The training run's figures: they name the model and its version, shade the gate's own
bounds, and show the centrality classes the model does not hold at 1 by construction."""

from __future__ import annotations

import pandas as pd
import pytest

from features import preset
from training.gate import GateBounds
from training.plots import ratio_figure
from training.run_records import figure_title, informative_ratios

CENTRALITY = [str(c) for c in range(1, 7)]


def _ratios() -> pd.DataFrame:
    rows = [("age_sex", "F 0-5"), ("age_sex", "M 0-5")]
    rows += [("centrality", c) for c in CENTRALITY]
    rows += [("predicted_decile", str(d)) for d in range(1, 4)]
    return pd.DataFrame(
        {
            "group": [group for group, _ in rows],
            "level": [level for _, level in rows],
            "persons": 2000,
            "predictive_ratio": [0.8 + 0.03 * i for i in range(len(rows))],
        }
    )


@pytest.mark.parametrize("bounds", [GateBounds(), GateBounds(min_ratio=0.4, max_ratio=5.0)])
def test_the_ratio_plot_shades_the_gate_s_bounds(bounds):
    figure = ratio_figure(_ratios(), bounds=bounds, min_persons=1000, title="")
    panels = [axis for axis in figure.axes if axis.get_visible()]
    assert len(panels) == 3
    for axis in panels:
        (shaded,) = axis.patches
        assert shaded.get_y() == pytest.approx(bounds.min_ratio)
        assert shaded.get_y() + shaded.get_height() == pytest.approx(bounds.max_ratio)
        low, high = axis.get_ylim()
        assert low < bounds.min_ratio and high > bounds.max_ratio  # both edges in sight
    assert f"{bounds.min_ratio:g}-{bounds.max_ratio:g}" in figure.get_suptitle()


def test_figures_name_the_model_and_its_version_not_the_run():
    title = figure_title("model_2026", "7", run_id="4f2a9c0e")
    assert "model_2026" in title and "the 2026 rule" in title and "ptb version 7" in title
    assert "4f2a9c0e" not in title
    figure = ratio_figure(_ratios(), bounds=GateBounds(), min_persons=1000, title=title)
    assert figure.get_suptitle().startswith(title)


def test_before_registration_a_figure_names_its_run_and_says_it_is_no_version_yet():
    title = figure_title("model0_2023", None, run_id="4f2a9c0e")
    assert "model0_2023" in title and "run 4f2a9c0e" in title and "not yet registered" in title


@pytest.mark.parametrize("model", ["model_2026", "model0_2023", "model_2026_fine_bands"])
def test_the_ratio_plot_shows_the_centrality_classes_pooled_in_the_reference(model):
    indicators = preset(model)[0]
    shown = informative_ratios(_ratios(), indicators)
    supplements = {str(c) for c in indicators.centrality_supplement_classes}
    assert supplements == {"5", "6"}  # the rules' supplement classes; 1-4 share the reference
    centrality = shown.loc[shown["group"] == "centrality", "level"].tolist()
    assert centrality == ["1", "2", "3", "4"]
    assert "age_sex" not in set(shown["group"]) and "predicted_decile" in set(shown["group"])


def test_centrality_is_hidden_when_every_class_but_the_first_is_a_dummy():
    indicators = preset("model_2026")[0].model_copy(
        update={"centrality_supplement_classes": (2, 3, 4, 5, 6)}
    )
    assert "centrality" not in set(informative_ratios(_ratios(), indicators)["group"])
