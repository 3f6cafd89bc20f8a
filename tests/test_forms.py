"""Reading typed fields (services.forms) and choosing the kind of answer (web.responses)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.plugins.htmx import HTMXRequest

from services.forms import whole_number, yes_no
from web.responses import wanted


@pytest.mark.parametrize(
    ("value", "expected", "error"),
    [
        ("7", 7, None),
        (" 12 ", 12, None),
        (30, 30, None),
        ("", 5, None),  # left empty: the default
        (None, 5, None),
        ("   ", 5, None),
        ("0", None, "Days must be a whole number from 1 to 1,000."),
        ("1001", None, "Days must be a whole number from 1 to 1,000."),
        ("7.5", None, "Days must be a whole number from 1 to 1,000."),
        ("seven", None, "Days must be a whole number from 1 to 1,000."),
        ("9" * 40, None, "Days must be a whole number from 1 to 1,000."),
    ],
)
def test_whole_number(value: object, expected: int | None, error: str | None) -> None:
    errors: dict[str, str] = {}
    got = whole_number(errors, "days", value, label="Days", low=1, high=1000, default=5)
    assert got == expected
    assert errors == ({"days": error} if error else {})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("on", True),
        ("1", True),
        ("Yes", True),
        (" TRUE ", True),
        (True, True),
        ("off", False),
        ("0", False),
        ("no", False),
        ("false", False),
        ("", False),
        (None, False),
        (False, False),
        ("maybe", None),
        ("2", None),
    ],
)
def test_yes_no(value: object, expected: bool | None) -> None:
    assert yes_no(value) is expected


def request_with(headers: dict[str, str], method: str = "GET") -> HTMXRequest:
    scope: Any = {
        "type": "http",
        "method": method,
        "path": "/tracks",
        "raw_path": b"/tracks",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "app": None,
        "state": {},
    }
    return HTMXRequest(scope)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "page"),
        ({"Accept": "text/html"}, "page"),
        ({"Accept": "application/json"}, "json"),
        ({"Content-Type": "application/json"}, "json"),
        ({"HX-Request": "true"}, "fragment"),
        # A boosted link and a history restore replace the whole page: they get one.
        ({"HX-Request": "true", "HX-Boosted": "true"}, "page"),
        ({"HX-Request": "true", "HX-History-Restore-Request": "true"}, "page"),
        # An API client that happens to run htmx still asked for JSON.
        ({"HX-Request": "true", "Accept": "application/json"}, "json"),
    ],
)
def test_each_request_gets_the_answer_it_wants(headers: dict[str, str], expected: str) -> None:
    assert wanted(request_with(headers)) == expected
