"""Sender formats by name: every site builder and form plugin the intake understands.

Adding a sender: a module with a :class:`~connectors.website.formats.base.SenderFormat` subclass (its
field defaults, noise, auth and hooks), listed in ``FORMATS`` and in ``SenderFormatName``.
"""

from __future__ import annotations

from connectors.website.formats.base import SenderFormat, Submission
from connectors.website.formats.bitrix import Bitrix
from connectors.website.formats.cf7 import ContactForm7
from connectors.website.formats.elementor import Elementor
from connectors.website.formats.google_forms import GoogleForms
from connectors.website.formats.gravity_forms import GravityForms
from connectors.website.formats.marquiz import Marquiz
from connectors.website.formats.plain import PlainForm
from connectors.website.formats.tilda import Tilda
from connectors.website.formats.wpforms import WPForms
from connectors.website.formats.yandex_forms import YandexForms

FORMATS: dict[str, SenderFormat] = {fmt.name: fmt for fmt in (
    Tilda(), ContactForm7(), Elementor(), GravityForms(), WPForms(), Bitrix(), YandexForms(), Marquiz(),
    GoogleForms(), PlainForm(),
)}

__all__ = ["FORMATS", "SenderFormat", "Submission"]
