"""MySQL value texts parsed the one way every decoder needs them (pure)."""

from __future__ import annotations

import re
from datetime import timedelta

# [-]H+:MM[:SS[.ffffff]]: MySQL TIME text (up to 838 hours, negative too); seconds are optional in
# what a user or a JSON source writes, never in what the server (Canal, information_schema) prints
_TIME_TEXT = re.compile(r"^(-)?(\d+):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$")

ZERO_DATE = "0000-00-00"


def parse_time(text: str, *, seconds: bool = True) -> timedelta | None:
    """A MySQL TIME text as a ``timedelta`` (``"-838:59:59.5"``), ``None`` when the text is not that form.

    ``seconds``: whether the seconds must be there (``"12:30"`` is not a TIME then). Minutes or
    seconds of 60 and more raise ``ValueError``."""
    m = _TIME_TEXT.match(text)
    if m is None or (seconds and m.group(4) is None):
        return None
    neg, h, mi, s, frac = m.groups()
    if int(mi) > 59 or int(s or 0) > 59:
        raise ValueError("minutes and seconds must be below 60")
    td = timedelta(hours=int(h), minutes=int(mi), seconds=int(s or 0), microseconds=int((frac or "0").ljust(6, "0")))
    return -td if neg else td


def is_zero_date(text: str) -> bool:
    """Whether a DATE / DATETIME / TIMESTAMP text is MySQL's zero date (no calendar has it)."""
    return text.startswith(ZERO_DATE)
