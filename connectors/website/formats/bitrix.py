"""1C-Bitrix web forms (module ``form``), as the site forwards a result: urlencoded, often windows-1251.

Answers are named ``form_<type>_<answer id>`` (``form_text_1``, ``form_email_3``, ``form_textarea_4``)
next to ``WEB_FORM_ID`` and, once saved, ``RESULT_ID``. Which ``form_text_N`` is the name and which the
phone differs per site: the defaults follow the install wizard's feedback form, map others in ``fields:``.
Bitrix's own controls (``sessid``, ``web_form_submit``, CAPTCHA) are noise.
"""

from __future__ import annotations

from typing import ClassVar

from connectors.website.formats.base import Paths, SenderFormat


class Bitrix(SenderFormat):
    name = "bitrix"
    label = "1C-Bitrix web forms (form module, urlencoded, UTF-8 or windows-1251)"
    fields: ClassVar[dict[str, Paths]] = {
        "submission_id": ("RESULT_ID",),
        "form_id": ("WEB_FORM_ID",),
        "form_name": ("WEB_FORM_NAME", "WEB_FORM_SID"),
        "name": ("NAME", "form_text_1"),
        "phone": ("PHONE", "form_text_2"),
        "email": ("EMAIL", "form_email_*"),
        "comment": ("MESSAGE", "form_textarea_*"),
        "page_url": ("PAGE_URL", "form_url_*"),
    }
    noise: ClassVar[Paths] = ("web_form_submit", "web_form_apply", "bxajaxid", "AJAX_CALL", "lang")
