"""Gravity Forms, Webhooks Add-On with "Request Body: All Fields" (the entry object, JSON or form).

The entry carries its bookkeeping (``id``, ``form_id``, ``date_created``, ``source_url``, ``ip``,
``user_agent``, payment and status fields) and every field under its numeric id; compound fields use
sub-ids (a Name field: ``1.3`` first, ``1.6`` last). The defaults follow Gravity's "Contact Us" template
(Name 1, Email 2, Phone 3, Comments 4); map other numbering in the source's ``fields:``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from connectors.website.formats.base import Data, Paths, SenderFormat, as_text


class GravityForms(SenderFormat):
    name = "gravity_forms"
    label = "Gravity Forms (Webhooks Add-On, all fields)"
    fields: ClassVar[dict[str, Paths]] = {
        "submission_id": ("id",),
        "form_id": ("form_id",),
        "form_name": ("form_title",),
        "submitted_at": ("date_created",),
        "page_url": ("source_url",),
        "sender_ip": ("ip",),
        "user_agent": ("user_agent",),
        "name": ("1.3", "1"),
        "email": ("2",),
        "phone": ("3",),
        "comment": ("4",),
    }
    envelope: ClassVar[Paths] = (
        "status", "currency", "post_id", "date_updated", "is_starred", "is_read", "is_fulfilled", "created_by",
        "transaction_id", "transaction_type", "payment_status", "payment_date", "payment_amount", "payment_method",
        "source_id", "1.6",
    )

    def complete(self, values: dict[str, str], data: Data, raw: Data) -> Iterable[str]:
        first, last = as_text(data.get("1.3")), as_text(data.get("1.6"))  # the template's Name field
        if last and (values.get("name") or first) == first:
            values["name"] = f"{first} {last}" if first else last
        return ()
