"""The one error type for input a person got wrong, in words, field by field."""

from __future__ import annotations


class InvalidRequest(ValueError):
    """A form, JSON body, query or CLI argument that cannot be used.

    `errors` maps each field name to a message in words; the form shows each beside its
    field, the JSON API answers them as `{"detail", "errors"}`, the CLI prints them.
    """

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors
