"""Keys out of log records: an API key sent as a query parameter shows in httpx's INFO line for
every request ("HTTP Request: GET https://...?access_key=..."), and a bearer token can show in
a debug line. `redact_logs()` puts a filter on the loggers that print request lines (httpx,
httpcore and ours) that masks such values in the finished message, whatever handler or level
the application set up.
"""

from __future__ import annotations

import logging
import re

# key=value in a query string, for parameter names that carry credentials
_QUERY_SECRET = re.compile(
    r"([?&](?:access_key|api_key|apikey|key|token|access_token|secret|password|appid|signature)=)[^&\s\"'#]+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"((?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/=\-]{8,}", re.IGNORECASE)
LOGGERS = ("httpx", "httpcore", "vlagent")


def redact(text: str) -> str:
    """`text` with credentials in query strings and Authorization values masked."""
    return _BEARER.sub(r"\1***", _QUERY_SECRET.sub(r"\1***", text))


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_FILTER = _Redact()


def redact_logs() -> None:
    """Install the filter on LOGGERS (once; calling again does nothing)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
