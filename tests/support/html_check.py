"""Is this HTML valid? The WHATWG parsing algorithm (html5lib) reports what a browser
silently repairs: a <div> inside a <p> (the </p> then has no <p>), an end tag without its
start, an element left open, a stray character. On the parsed tree, what parsers forgive
but Crate must not send: two elements with one id, and the style attributes, inline
scripts and event-handler attributes that the Content-Security-Policy refuses."""

from __future__ import annotations

from collections import Counter

import html5lib
from html5lib.constants import E


def html_problems(html: str, fragment: bool = False) -> list[str]:
    """Every problem in `html` (a whole page, or an htmx fragment swapped into a <div>)."""
    parser = html5lib.HTMLParser(strict=False, namespaceHTMLElements=False)
    root = parser.parseFragment(html, container="div") if fragment else parser.parse(html)
    lines = html.splitlines()
    problems = []
    for (line, column), code, data in parser.errors:
        words = E.get(code, code) % (data or {})
        near = lines[line - 1][max(0, column - 60) : column + 20].strip() if line else ""
        problems.append(f"line {line}: {words} near {near!r}")
    ids = Counter(element.get("id") for element in root.iter() if element.get("id"))
    problems += [f"id {name!r} is used {n} times" for name, n in ids.items() if n > 1]
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else "?"
        if "style" in element.attrib:
            problems.append(f"<{tag}> has a style attribute (the CSP refuses it)")
        if tag == "style" or (tag == "script" and "src" not in element.attrib):
            problems.append(f"an inline <{tag}> (the CSP refuses it)")
        handlers = [name for name in element.attrib if name.lower().startswith("on")]
        if handlers:
            problems.append(f"<{tag}> has event-handler attributes {handlers}")
    return problems
