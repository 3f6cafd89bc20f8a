"""Reading what people typed into a form, a JSON body or the CLI: the one place that turns
text into whole numbers and yes/no answers, with the mistakes in words."""

from __future__ import annotations

from typing import Final

YES: Final = frozenset({"1", "on", "true", "yes"})
NO: Final = frozenset({"", "0", "off", "false", "no"})


def whole_number(
    errors: dict[str, str],
    name: str,
    value: object,
    *,
    label: str = "",
    low: int,
    high: int,
    default: int | None = None,
    message: str | None = None,
) -> int | None:
    """The whole number in field `name` (from `low` to `high`), or `default` when left
    empty. Otherwise records in `errors[name]` what is wrong (`message`, or words naming
    the field by `label`) and returns None."""
    text = "" if value is None else str(value).strip()
    if not text:
        return default
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        errors[name] = message or f"{label} must be a whole number from {low:,} to {high:,}."
        return None
    return number


def yes_no(value: object) -> bool | None:
    """A checkbox or yes/no field: True for on/yes/true/1, False for off/no/false/0 or left
    empty, None for anything else (the caller decides whether that is an error)."""
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    return None
