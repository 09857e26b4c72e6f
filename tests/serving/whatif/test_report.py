"""``ptb whatif``'s report: the tables as CSV files and the charts as PNG."""

from __future__ import annotations

import pandas as pd

from serving.whatif import Scenario, write_report


def test_write_report_writes_the_tables_and_charts(engine, tmp_path):
    result = engine.run(Scenario(title="half dampened", dampening=0.5))
    written = write_report(result, tmp_path / "report")
    for name in ("summary", "lists", "kommuner", "centrality"):
        assert written[name].suffix == ".csv" and written[name].stat().st_size > 0
    lists = pd.read_csv(written["lists"], dtype={"list_id": str, "practice_kommune": str})
    assert len(lists) == engine.n_lists
    for name in ("change_histogram", "change_by_centrality", "top_kommuner"):
        assert written[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
