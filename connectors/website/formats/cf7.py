"""Contact Form 7 through a webhook add-on ("CF7 to Webhook" / "Contact Form 7 to Zapier"), JSON.

The body is the form's fields under their CF7 tag names (``your-name``, ``your-email``, ``tel-123``,
``your-message``) plus whatever special mail tags the site owner added (``_url``, ``_date``, ``_time``,
``_remote_ip``, ``_user_agent``, ``_serial_number`` with Flamingo). CF7's own hidden fields (``_wpcf7*``)
are noise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from connectors.website.formats.base import Data, Paths, SenderFormat


class ContactForm7(SenderFormat):
    name = "cf7"
    label = "Contact Form 7 (webhook add-on, JSON)"
    fields: ClassVar[dict[str, Paths]] = {
        "submission_id": ("_serial_number",),
        "form_id": ("_wpcf7", "form_id"),
        "form_name": ("form_name", "_post_title", "_wpcf7_title"),
        "name": ("your-name", "name", "text-name", "fio"),
        "phone": ("your-phone", "your-tel", "phone", "tel", "tel-*"),
        "email": ("your-email", "email", "email-*"),
        "comment": ("your-message", "message", "textarea-*"),
        "page_url": ("_url", "_post_url", "url"),
        "sender_ip": ("_remote_ip",),
        "user_agent": ("_user_agent",),
    }
    noise: ClassVar[Paths] = ("_wpcf7*", "_date", "_time")

    def complete(self, values: dict[str, str], data: Data, raw: Data) -> Iterable[str]:
        date, time = data.get("_date"), data.get("_time")
        if isinstance(date, str) and date.strip():
            values.setdefault("submitted_at", f"{date.strip()} {time.strip()}" if isinstance(time, str) else date)
        return ()
