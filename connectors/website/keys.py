"""The key that makes a resubmission a no-op: the sender's submission id, else a hash of the content
within a time window.

``<source>:id:<sender id>`` when the sender numbers its submissions (Tilda ``tranid``, Gravity Forms entry
``id``, ...): a retry carries the same id. Otherwise ``<source>:h:<content hash>:<window number>``, the
window counted from the sender's own submission time when it sends one (a retry repeats it) or from the
arrival time. The previous window's key is checked too, so any two equal submissions less than a window
apart are one. The key is also the lead's ``source_ref`` in the CRM, so it is kept within 64 characters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from connectors.website.formats.base import Submission

MAX_KEY = 64
#: values that differ between two sends of the same submission, or are not what the visitor entered
NOT_CONTENT = frozenset({"submission_id", "submitted_at", "sender_ip", "user_agent"})
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y",
                 "%B %d, %Y %I:%M %p", "%B %d, %Y %H:%M", "%B %d, %Y", "%m/%d/%Y %H:%M:%S")


def submission_keys(submission: Submission, received: dt.datetime, window: int) -> tuple[str, tuple[str, ...]]:
    """(key, other keys under which the same submission may already be stored)."""
    sender_id = submission.get("submission_id")
    if sender_id:
        key = f"{submission.source}:id:{sender_id}"
        if len(key) > MAX_KEY:
            key = f"{submission.source}:id#{_digest(sender_id)}"
        return key, ()
    content = _digest(json.dumps([sorted((k, v) for k, v in submission.values.items() if k not in NOT_CONTENT),
                                  list(submission.answers)], ensure_ascii=False))
    at = sender_time(submission.get("submitted_at")) or received
    try:
        number = int(at.timestamp()) // window
    except (OverflowError, OSError, ValueError):  # a time outside what the platform counts: use arrival
        number = int(received.timestamp()) // window
    return f"{submission.source}:h:{content}:{number}", (f"{submission.source}:h:{content}:{number - 1}",)


def sender_time(text: str | None) -> dt.datetime | None:
    """The sender's submission time, if it is in a format people and plugins commonly use (naive: UTC)."""
    if not text:
        return None
    parsed: dt.datetime | None = None
    try:
        parsed = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        for fmt in _TIME_FORMATS:
            try:
                parsed = dt.datetime.strptime(text.strip(), fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]
