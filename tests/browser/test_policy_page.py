"""The /policy page in headless Chromium: move a lever, the charts and totals follow."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

PRICED = "() => document.body.dataset.scenario === {expected!r}"


def wait_priced(page, scenario: dict) -> None:
    """Until the page shows the answer to exactly this scenario."""
    expected = json.dumps(scenario, separators=(",", ":"))
    page.wait_for_function(PRICED.format(expected=expected), timeout=60_000)


def figures(page) -> dict:
    """What a reader sees: the headline figures and the shape of both charts."""
    return {
        "totals": {
            name: page.inner_text(f"#{name}")
            for name in ("winners", "losers", "unchanged", "total-change", "rate")
        },
        "histogram": page.eval_on_selector_all(
            "#histogram rect.bar",
            "bars => bars.map(b => [b.getAttribute('class'), b.dataset.lists,"
            " Number(b.getAttribute('height')).toFixed(1)])",
        ),
        "centrality": page.eval_on_selector_all(
            "#centrality-chart rect.bar",
            "bars => bars.map(b => [b.dataset.class, Number(b.getAttribute('height')).toFixed(1)])",
        ),
        "kommuner": page.locator("#kommuner tbody tr").count(),
    }


def test_moving_dampening_redraws_the_charts(page, screenshot_dir):
    page.goto("/policy")
    wait_priced(page, {})
    before = figures(page)
    assert before["totals"]["winners"] == "0" and before["totals"]["losers"] == "0"
    assert page.get_attribute("#status", "data-state") == "ok"

    page.locator("#dampening").focus()
    for _ in range(10):  # step 0.05: from the 2026 rule (0) to the 2023 rule (0.5)
        page.keyboard.press("ArrowRight")
    wait_priced(page, {"dampening": 0.5})
    after = figures(page)

    assert page.inner_text("#dampening-out") == "0.50"
    assert after["totals"]["winners"] != "0" and after["totals"]["losers"] != "0"
    assert after["totals"]["total-change"] == "same total"  # budget neutral
    assert after["histogram"] != before["histogram"]
    assert {bar[0] for bar in after["histogram"] if bar[1] != "0"} >= {"bar gain", "bar loss"}
    assert after["centrality"] != before["centrality"]
    assert after["kommuner"] > 1
    assert json.loads(page.text_content("#scenario-json")) == {"dampening": 0.5}
    path = screenshot_dir / "policy_page.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    print(f"screenshot: {path}")


def test_refused_lever_shows_the_field_and_message(page):
    page.goto("/policy")
    wait_priced(page, {})
    page.fill("#break_point_persons", "1500")
    page.wait_for_selector("#status[data-state='error']", timeout=30_000)
    assert "break_point_rate_share" in page.inner_text("#status")
    assert page.locator(".unit-input.invalid #break_point_rate_share").count() == 1

    page.fill("#break_point_rate_share", "0.6")
    wait_priced(page, {"break_point_persons": 1500, "break_point_rate_share": 0.6})
    assert page.get_attribute("#status", "data-state") == "ok"
    assert page.locator(".invalid").count() == 0


def test_reset_returns_to_the_baseline(page):
    page.goto("/policy")
    wait_priced(page, {})
    page.check("input[name='centrality_mode'][value='nok']", force=True)
    page.fill("#centrality_nok_5", "800")
    page.fill("#refugee_rate_nok", "4000")
    wait_priced(page, {"centrality_supplement_nok": {"5": 800}, "refugee_rate_nok": 4000})
    page.click("#reset-levers")
    wait_priced(page, {})
    assert page.inner_text("#winners") == "0"
    assert page.is_hidden("#centrality_nok_5")


def test_scenario_in_the_address_is_priced_on_opening(page):
    scenario = {"education_threshold": 0.22, "floor_persons": 900}
    page.goto("/policy#" + json.dumps(scenario, separators=(",", ":")))
    wait_priced(page, scenario)
    assert page.input_value("#floor_persons") == "900"
    assert page.inner_text("#education_threshold-out") == "22\u202f%"
    assert page.get_attribute("#status", "data-state") == "ok"


# A floor of 500 lifts the shortest lists by hundreds of per cent: the outliers the axis must
# not be decided by.
FLOOR = {"floor_persons": 500}


def _layout(page) -> dict:
    return page.evaluate(
        """() => ({
          page: document.documentElement.scrollWidth,
          viewport: window.innerWidth,
          tables: Array.from(document.querySelectorAll('table')).map(t => {
            const panel = t.closest('.panel').getBoundingClientRect();
            const box = t.getBoundingClientRect();
            return {id: t.id, right: box.right, left: box.left, width: t.scrollWidth,
                    panelLeft: panel.left, panelRight: panel.right};
          }),
          labels: Array.from(document.querySelectorAll('svg.chart text')).map(
            t => t.getBoundingClientRect().height).filter(h => h > 0),
        })"""
    )


def test_the_page_fits_the_width_and_keeps_tables_in_their_panels(sized_page):
    sized_page.goto("/policy#" + json.dumps(FLOOR, separators=(",", ":")))
    wait_priced(sized_page, FLOOR)
    sized_page.wait_for_selector("#reform-status[data-state='ok']", timeout=60_000)
    layout = _layout(sized_page)
    assert layout["page"] <= layout["viewport"], layout["page"]
    for table in layout["tables"]:
        assert table["right"] <= table["panelRight"] + 0.5, table
        assert table["left"] >= table["panelLeft"] - 0.5, table
    assert min(layout["labels"]) >= 9.0  # chart labels readable, not shrunk to fit


def test_outliers_do_not_decide_the_histogram_axis_and_are_named(sized_page):
    sized_page.goto("/policy#" + json.dumps(FLOOR, separators=(",", ":")))
    wait_priced(sized_page, FLOOR)
    bars = sized_page.eval_on_selector_all(
        "#histogram rect.bar",
        "bars => bars.map(b => [b.getAttribute('class'), Number(b.dataset.lists)])",
    )
    named = sized_page.locator("#histogram-outliers li")
    assert named.count() >= 1
    assert "%" in named.first.inner_text()
    outliers = sized_page.eval_on_selector_all(
        "#histogram-outliers li", "items => items.map(i => Number(i.dataset.changePct))"
    )
    # Every list is in a bar or named, and every losing list shows in a red bar or by name:
    # the slight losses of a budget-neutral floor are not hidden in the bin around 0.
    lists = int(sized_page.get_attribute("#histogram", "data-lists"))
    hidden = int(sized_page.get_attribute("#histogram-outliers", "data-more"))
    assert sum(n for _, n in bars) + len(outliers) + hidden == lists
    losers = int(sized_page.inner_text("#losers").replace("\u202f", "").replace(" ", ""))
    in_red = sum(n for kind, n in bars if kind == "bar loss")
    assert in_red + sum(1 for pct in outliers if pct < 0) == losers
    assert losers > 0


def test_the_page_shows_the_reform_waterfall_that_adds_up(sized_page):
    sized_page.goto("/policy")
    sized_page.wait_for_selector("#reform-status[data-state='ok']", timeout=60_000)
    steps = sized_page.eval_on_selector_all(
        "#reform-chart rect.step-bar", "bars => [...new Set(bars.map(b => b.dataset.step))]"
    )
    assert steps == [
        "dampening_off",
        "education_by_grunnkrets",
        "centrality_by_practice",
        "utjamning_into_centrality",
        "refugee_rate",
    ]
    assert sized_page.locator("#reform-key li").count() == 5
    for group in ("size_band", "centrality", "form_of_practice", "kommuner"):
        sized_page.check(f"input[name='reform_group'][value='{group}']", force=True)
        rows = sized_page.eval_on_selector_all(
            "#reform-table tbody tr",
            "rows => rows.map(r => [JSON.parse(r.dataset.steps), Number(r.dataset.change)])",
        )
        assert rows, group
        for moved, change in rows:
            assert abs(sum(moved) - change) < 1.0  # the steps add up to the change
