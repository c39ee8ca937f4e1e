"""bench/report.py: the figures the targets are judged on, from a raw result (no timings run here)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench.report import summary


def _raw() -> dict[str, Any]:
    rows = [["a"]]
    return {"systems": {
        "inproc": {"q1": {"cold": 0.010, "rows": rows}, "q2": {"cold": 0.020, "rows": rows},
                   "q3": {"cold": 0.001, "rows": rows}, "q4": {"cold": 0.004, "rows": rows}},
        "http": {"q1": {"cold": 0.012, "rows": rows}, "q2": {"cold": 0.020, "rows": rows},
                 "q3": {"cold": 0.002, "rows": rows}, "q4": {"cold": 0.005, "rows": rows}},
        "rdflib": {"q1": {"cold": 1.2, "rows": rows}, "q2": {"cold": 0.2, "rows": [["b"]]},
                   "q3": {"error": "timeout: no answer in 60 s"}, "q4": {"error": "Exception: Cannot eval thing"}},
        "virtuoso": {"q1": {"cold": 0.005, "rows": rows}, "q2": {"cold": 0.040, "rows": []},
                     "q3": {"error": "TimeoutError: timed out"}, "q4": {"cold": 0.004, "rows": rows}},
    }}


def test_rdflib_speedup_over_the_queries_both_answer_and_with_timeouts_as_a_bound() -> None:
    x = summary(_raw())["rdflib_over_http"]
    assert x["both"] == 2 and x["timeouts"] == 1 and x["failed"] == ["q4"]
    assert x["ratio"] == pytest.approx(math.sqrt(1.2 / 0.012 * 0.2 / 0.020))  # 100x and 10x
    assert x["ratio_with_timeouts"] == pytest.approx((100 * 10 * 60 / 0.002) ** (1 / 3))


def test_virtuoso_means_only_over_its_identical_rows() -> None:
    x = summary(_raw())["identical_rows_virtuoso"]
    assert x["queries"] == 2  # q2: other rows; q3: no answer
    assert x["gmean_cold"]["inproc"] == pytest.approx(math.sqrt(0.010 * 0.004))
    assert x["gmean_cold"]["virtuoso"] == pytest.approx(math.sqrt(0.005 * 0.004))
    assert "rdflib" not in x["gmean_cold"]


def test_rows_that_differ_are_reported_per_system() -> None:
    s = summary(_raw())
    assert s["mismatches"] == {"q2": {"inproc": 1, "rdflib": 1, "virtuoso": 0}}
    assert s["http_over_inproc_cold_above_10ms"] == {"q2": pytest.approx(1.0)}  # q1 is exactly 10 ms: not above
