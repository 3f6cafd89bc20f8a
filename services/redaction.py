"""Keeping secrets out of logs, pages, job parameters and error messages."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "[redacted]"
# Credentials that can appear in text whatever the configured values are.
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]{8,}"),
    re.compile(r"(?i)(sessionid=)[^\s;\"'&,]+"),
    re.compile(r"(?i)([?&]code=)[^\s\"'&,]+"),
    re.compile(r"(?i)((?:access|refresh)_token[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
    re.compile(r"(?i)(client_secret[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
    re.compile(r"(?i)(password[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
    # user:password@ in a URL, the user possibly empty (redis://:password@host).
    re.compile(r"(?i)(\w+://[^:/@\s]*:)[^@/\s]+(@)"),
]


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every configured secret, and anything shaped like a credential, with a mask."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(
            lambda m: m.group(1) + MASK + (m.group(2) if m.lastindex == 2 else ""), text
        )
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record's final message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, masked, and drop the arguments."""
        message = record.getMessage()
        masked = redact(message, self.secrets)
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now so the mask applies to it too.
            formatted = logging.Formatter().formatException(record.exc_info)
            masked = masked + "\n" + redact(formatted, self.secrets)
            record.exc_info = None
            record.exc_text = None
        record.msg = masked
        record.args = None
        return True


def install_log_redaction(secrets: Iterable[str]) -> None:
    """Mask secrets in everything the root logger's handlers write (and say driver
    outages in one line, see `OneLineOutages`)."""
    quiet_driver_outages()
    redacting = RedactingFilter(secrets)
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)


class OneLineOutages(logging.Filter):
    """For a driver's own logger (asyncpg's pool): a connection error is said in one line,
    with its reason, instead of a traceback per retry while the database is away."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Fold the exception of a record into its message."""
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {error}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_driver_outages() -> None:
    """Install `OneLineOutages` on the loggers of the database drivers."""
    logger = logging.getLogger("asyncpg.pool")
    if not any(isinstance(f, OneLineOutages) for f in logger.filters):
        logger.addFilter(OneLineOutages())
