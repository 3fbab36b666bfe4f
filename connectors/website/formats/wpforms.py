"""WPForms, Webhooks addon: a body whose keys the site owner chooses, each filled from a form field.

The addon signs every request: ``X-WPForms-Webhook-Signature: t=<unix time>,v=<hex HMAC-SHA256 of
"<t>.<body>">`` with the webhook's secret; that is the default check here. (With "Request format: Form"
WPForms signs a JSON re-encoding of the fields, not the body it sends; choose JSON.) The defaults expect
the keys the addon's docs use (``name``, ``email``, ``phone``, ``message``, ``entry_id``).
"""

from __future__ import annotations

from typing import ClassVar

from connectors.website.config import Auth, HmacAuth
from connectors.website.formats.base import Paths, SenderFormat


class WPForms(SenderFormat):
    name = "wpforms"
    label = "WPForms (Webhooks addon, JSON, signed)"
    fields: ClassVar[dict[str, Paths]] = {
        "submission_id": ("entry_id",),
        "form_id": ("form_id",),
        "form_name": ("form_name", "form_title"),
        "name": ("name", "full_name", "Name"),
        "phone": ("phone", "Phone", "tel"),
        "email": ("email", "Email"),
        "comment": ("message", "comment", "comments"),
        "page_url": ("page_url", "url"),
        "sender_ip": ("user_ip",),
    }
    default_auth: ClassVar[Auth] = HmacAuth(method="hmac", header="X-WPForms-Webhook-Signature",
                                            scheme="timestamped")
