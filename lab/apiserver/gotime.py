"""Go's `time.Parse` for the two layouts the API server decodes timestamps with.

`metav1.Time` parses RFC 3339 (`2006-01-02T15:04:05Z07:00`; a fractional second is
accepted after the seconds), `metav1.MicroTime` parses `2006-01-02T15:04:05.000000Z07:00`
(exactly six fractional digits). The error texts are Go's, so a 400 reads as a real
server's: ``parsing time "yesterday" as "2006-01-02T15:04:05.000000Z07:00": cannot parse
"yesterday" as "2006"`` (staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/micro_time.go,
time.go; Go's src/time/format.go).
"""

from __future__ import annotations

import calendar

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"

# (element, kind): digits(n) | literal | frac6 | zone
_ELEMENTS: dict[str, list[tuple[str, str]]] = {
    RFC3339: [("2006", "d4"), ("-", "lit"), ("01", "d2"), ("-", "lit"), ("02", "d2"),
              ("T", "lit"), ("15", "d2"), (":", "lit"), ("04", "d2"), (":", "lit"),
              ("05", "d2s"), ("Z07:00", "zone")],
    RFC3339_MICRO: [("2006", "d4"), ("-", "lit"), ("01", "d2"), ("-", "lit"), ("02", "d2"),
                    ("T", "lit"), ("15", "d2"), (":", "lit"), ("04", "d2"), (":", "lit"),
                    ("05", "d2"), (".000000", "frac6"), ("Z07:00", "zone")],
}
_RANGES = {"01": (1, 12, "month"), "02": (0, 31, "day"), "15": (0, 23, "hour"),
           "04": (0, 59, "minute"), "05": (0, 59, "second")}


def parse_error(value: str, layout: str) -> str | None:
    """Go's error for `time.Parse(layout, value)`, or None when it parses."""
    prefix = f'parsing time "{value}" as "{layout}": '
    rest = value
    fields: dict[str, int] = {}
    for elem, kind in _ELEMENTS[layout]:
        cant = prefix + f'cannot parse "{rest}" as "{elem}"'
        if kind == "lit":
            if not rest.startswith(elem):
                return cant
            rest = rest[len(elem):]
        elif kind in ("d4", "d2", "d2s"):
            n = 4 if kind == "d4" else 2
            if len(rest) < n or not rest[:n].isdigit() or not rest[:n].isascii():
                return cant
            fields[elem], rest = int(rest[:n]), rest[n:]
            low, high, what = _RANGES.get(elem, (0, 9999, ""))
            if not low <= fields[elem] <= high:
                return f'parsing time "{value}": {what} out of range'
            if kind == "d2s" and rest[:1] in (".", ",") and rest[1:2].isdigit():
                i = 1
                while i < len(rest) and rest[i].isdigit():
                    i += 1
                rest = rest[i:]  # Go accepts a fraction after the seconds when parsing
        elif kind == "frac6":
            if len(rest) < 7 or rest[0] not in ".," or not rest[1:7].isdigit():
                return cant
            rest = rest[7:]
        else:  # zone
            if rest.startswith("Z"):
                rest = rest[1:]
            elif len(rest) >= 6 and rest[0] in "+-" and rest[1:3].isdigit() and \
                    rest[3] == ":" and rest[4:6].isdigit():
                rest = rest[6:]
            else:
                return cant
    if rest:
        return f'parsing time "{value}": extra text: "{rest}"'
    year, month, day = fields["2006"], fields["01"], fields["02"]
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return f'parsing time "{value}": day out of range'
    return None
