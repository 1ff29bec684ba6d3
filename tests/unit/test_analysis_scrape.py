"""The selector the scrape interval is measured on."""

from __future__ import annotations

from shifter.analysis.scrape import selector, warning


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
