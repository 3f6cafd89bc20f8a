"""The HTML check the browser walk applies to every page finds what it must."""

from __future__ import annotations

from tests.support.html_check import html_problems

PAGE = "<!doctype html><html lang=en><head><title>t</title></head><body>{}</body></html>"


def test_valid_html_has_no_problems() -> None:
    body = (
        '<p>A <a href="/x" id="a">link</a>.</p><div id="b"><table><tr><td>1</td></tr></table></div>'
    )
    assert html_problems(PAGE.format(body)) == []
    assert html_problems('<div class="badge" id="job-1"><span>done</span></div>', True) == []


def test_each_kind_of_problem_is_found() -> None:
    found = {
        "div in p": html_problems(PAGE.format("<p>text <div>block</div></p>")),
        "left open": html_problems(PAGE.format("<section><div>x</section>")),
        "twice": html_problems(PAGE.format('<i id="a"></i><b id="a"></b>')),
        "style": html_problems(PAGE.format('<input style="">')),
        "script": html_problems(PAGE.format("<script>alert(1)</script>")),
        "handler": html_problems(PAGE.format('<img src="/x.png" alt="" onerror="x()">')),
        "no doctype": html_problems("<html><head><title>t</title></head><body></body></html>"),
        "fragment": html_problems("<span><div>x</div></span></p>", True),
    }
    assert "Unexpected end tag (p)" in found["div in p"][0]
    assert "End tag (section) seen too early" in found["left open"][0]
    assert found["twice"] == ["id 'a' is used 2 times"]
    assert "style attribute" in found["style"][0]
    assert "inline <script>" in found["script"][0]
    assert "onerror" in found["handler"][0]
    assert found["no doctype"] and found["fragment"]
