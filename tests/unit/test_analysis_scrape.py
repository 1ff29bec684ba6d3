"""The selector the scrape interval is measured on, and ticks that follow the scrapes."""

from __future__ import annotations

import math

import pytest

from shifter.analysis.prometheus import Sample
from shifter.analysis.scrape import Scrape, measure, selector, tick_shift, warning


def test_the_first_plain_selector_of_a_rendered_query() -> None:
    q = ('label_replace(sum by (service) (((http_requests_total{namespace="ns", '
         'service=~"a|b"} - http_requests_total{namespace="ns"} @ 5) >= 0)), "kind", '
         '"total", "", "")')
    assert selector(q) == 'http_requests_total{namespace="ns", service=~"a|b"}'
    assert selector('sum(rate(x:y_total{code=~"5.."}[1m]))') == 'x:y_total{code=~"5.."}'
    assert selector("vector(1)") is None


def test_warning_only_when_the_interval_is_shorter() -> None:
    assert warning(10, 15, "m") is not None
    assert warning(15, 15.2, "m") is None  # within 5%: scrape jitter
    assert warning(1, None, "m") is None


def _scrape(last: float, every: float = 1.0) -> Scrape:
    return Scrape("m{}", every, last)


def test_a_tick_moves_to_a_tenth_of_a_scrape_after_the_new_colours_scrape() -> None:
    # scrapes at ...100.3, 101.3, ...: a tick due at 105.0 moves to 105.4 (+0.4 s);
    # one due at 105.9 moves back to 105.4 (-0.5 s at most: half a scrape interval)
    assert tick_shift(105.0, interval=1, scrape=_scrape(100.3)) == pytest.approx(0.4)
    assert tick_shift(105.85, interval=1, scrape=_scrape(100.3)) == pytest.approx(-0.45)
    assert tick_shift(105.4, interval=1, scrape=_scrape(100.3)) == pytest.approx(0.0)
    # 15 s scrapes, 30 s interval: to 1.5 s after the nearest scrape (1045; 1030 is further)
    assert tick_shift(1040.0, interval=30, scrape=_scrape(1000.0, 15)) == pytest.approx(6.5)


def test_no_shift_unless_the_interval_is_a_whole_multiple_of_the_scrape_interval() -> None:
    assert tick_shift(105.0, interval=10, scrape=_scrape(100.3, 15)) == 0.0  # shorter
    assert tick_shift(105.0, interval=25, scrape=_scrape(100.3, 15)) == 0.0  # 1.67x
    assert tick_shift(105.0, interval=15.4, scrape=_scrape(100.3, 15)) != 0.0  # jitter


class _Source:
    """``timestamp()`` answers: blue scraped at .9, green at .3, every second."""

    def query(self, promql: str, *, at: float | None = None) -> list[Sample]:
        assert promql.startswith("timestamp(") and at is not None
        out: list[Sample] = []
        for service, phase in (("shop-blue", 0.9), ("shop-green", 0.3)):
            last = math.floor(at - phase) + phase
            out.append(({"service": service}, last))
        return out


def test_measure_takes_the_phase_of_the_new_colours_series() -> None:
    q = 'sum(x_total{service=~"shop-blue|shop-green"})'
    found = measure(_Source(), q, at=200.0, prefer="shop-green")  # type: ignore[arg-type]
    assert found is not None
    assert found.interval == pytest.approx(1.0)
    assert found.last == pytest.approx(199.3)
    other = measure(_Source(), q, at=200.0, prefer="shop-red")  # type: ignore[arg-type]
    assert other is not None and other.last == pytest.approx(199.9)  # the latest
