"""Every integer id in a path, out of range included, is a 404 in words on both engines
(PostgreSQL's `integer` ends at 2**31 - 1; SQLite's at 2**63 - 1)."""

from __future__ import annotations

import pytest

from services.tables import Schedule
from tests.conftest import LiveApp

OUT_OF_RANGE = ["0", "-1", str(2**31), str(2**63), str(2**64), "9" * 40]
PAGES = {
    "/tracks/{}": "There is no track {} in the library.",
    "/artists/{}": "There is no artist {} in the library.",
    "/labels/{}": "There is no label {} in the library.",
    "/releases/{}": "There is no release {} in the library.",
}
FORMS = {
    "/schedules/{}/toggle": "No schedule has the id {}.",
    "/schedules/{}/delete": "No schedule has the id {}.",
}
JSON = {"Accept": "application/json"}


@pytest.mark.parametrize("value", OUT_OF_RANGE)
async def test_ids_no_row_can_have_are_404_in_words(live_app: LiveApp, value: str) -> None:
    token = await live_app.csrf_token("/schedules")
    for path, words in PAGES.items():
        api = await live_app.http.get(path.format(value), headers=JSON)
        assert (api.status_code, api.json()) == (404, {"detail": words.format(value)}), path
        page = await live_app.http.get(path.format(value))
        assert page.status_code == 404 and words.format(value) in page.text, path
    for path, words in FORMS.items():
        form = {"_csrf_token": token}
        api = await live_app.http.post(path.format(value), data=form, headers=JSON)
        assert (api.status_code, api.json()) == (404, {"detail": words.format(value)}), path
        page = await live_app.http.post(path.format(value), data=form)
        assert page.status_code == 404 and words.format(value) in page.text, path


async def test_the_largest_id_is_an_ordinary_unknown_one(live_app: LiveApp) -> None:
    token = await live_app.csrf_token("/schedules")
    largest = str(2**31 - 1)
    for path, words in {**PAGES, "/schedules/{}/toggle": FORMS["/schedules/{}/toggle"]}.items():
        method = "POST" if path.startswith("/schedules") else "GET"
        data = {"_csrf_token": token} if method == "POST" else None
        answer = await live_app.http.request(method, path.format(largest), data=data, headers=JSON)
        assert (answer.status_code, answer.json()) == (404, {"detail": words.format(largest)})
    # Deleting a schedule that is already gone stays harmless (a double click).
    gone = await live_app.http.post(f"/schedules/{largest}/delete", data={"_csrf_token": token})
    assert gone.status_code == 303
    assert await Schedule.count() == 0
