"""``settings.omit``: fields a deployment's target lacks are left out, with the lookups only they used."""

from __future__ import annotations

from hub.mapping.loader import load_text

from .test_loader import BASE, FILE, assert_error, edit

WITH_SETTINGS = BASE + "settings:\n  omit: []\n"


def test_omitted_fields_and_the_lookups_only_they_used_are_left_out() -> None:
    text = edit("  omit: []", "  omit: [manager_id, lines.client]", WITH_SETTINGS)

    mapping = load_text(text, FILE).mapping

    assert "manager_id" not in mapping.fields and "manager" not in mapping.lookups
    assert list(mapping.fields["lines"].fields) == ["sku", "row"]  # type: ignore[union-attr]
    assert set(load_text(WITH_SETTINGS, FILE).mapping.lookups) == {"manager"}


def test_a_lookup_still_used_elsewhere_is_kept() -> None:
    text = edit("  phone: \"phone(phone)\"", "  phone: \"coalesce(phone(phone), manager.id)\"",
                edit("  omit: []", "  omit: [manager_id]", WITH_SETTINGS))

    assert "manager" in load_text(text, FILE).mapping.lookups


def test_omitting_a_field_the_mapping_does_not_have_names_the_line() -> None:
    text = edit("  omit: []", "  omit: [manager_id, lines.nope]", WITH_SETTINGS)

    assert_error(text, line_of="omit:", path="settings.omit.1", says="'lines.nope'")
