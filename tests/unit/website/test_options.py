"""Form source configuration: a mistake is reported by `hub validate` with the file, the line and the path;
the intake refuses to start on a source it cannot serve safely."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from connectors.website.sources import served_sources
from hub.app import Hub
from hub.connections import ConnectionResolver
from hub.errors import ConfigError
from hub.settings import HubSettings

MAPPING = """\
exchange: {exchange}
description: forms
triggers: [hub://inbox/website]
source:
  connector: website
  connection: hub
  stream: website
  key: submission_key
  incremental: {{strategy: cursor, cursor: received_at}}
  options:
    sources:
{sources}
target: {{connector: memory, connection: dst, entity: leads, match: [source_ref], mode: create}}
fields:
  source_ref: submission_key
"""


def write(directory: Path, sources: str, exchange: str = "forms") -> Path:
    path = directory / f"{exchange}.yaml"
    path.write_text(MAPPING.format(exchange=exchange, sources=textwrap.indent(textwrap.dedent(sources), " " * 6)))
    return path


def problems(tmp_path: Path, sources: str) -> list[str]:
    path = write(tmp_path, sources)
    hub = Hub(HubSettings(home=tmp_path, mappings_dir=tmp_path))
    return [str(finding.error) for finding in hub.validate([path], online=False)]


@pytest.mark.parametrize(("sources", "line", "where", "words"), [
    ("""\
     tilda:
       format: tilda
       connection: website_tilda
       auth: {method: tokn}
     """, 15, "source.options.sources.tilda.auth", "tokn"),
    ("""\
     shop:
       format: plain
       connection: api
       mode: poll
     """, 12, "source.options.sources.shop", "needs 'poll"),
    ("""\
     Tilda Main:
       format: tilda
       connection: website_tilda
     """, 11, "source.options.sources", "lower-case"),
    ("""\
     cf7:
       format: cf7
       connection: website_cf7
       fields: {phone_number: [tel]}
     """, 15, "source.options.sources.cf7.fields.phone_number", "phone_number"),
    ("""\
     cf7:
       format: contact_form_7
       connection: website_cf7
     """, 13, "source.options.sources.cf7.format", "tilda"),
])
def test_validate_names_file_line_and_path(tmp_path: Path, sources: str, line: int, where: str, words: str) -> None:
    found = problems(tmp_path, sources)
    assert len(found) == 1, found
    assert found[0].startswith(f"{tmp_path / 'forms.yaml'}:{line}: {where}: "), found[0]
    assert words in found[0]


def hub_with(tmp_path: Path, connections: dict[str, dict[str, object]]) -> Hub:
    env = {f"AIRFLOW_CONN_{name.upper()}": json.dumps(value) for name, value in connections.items()}
    return Hub(HubSettings(home=tmp_path, mappings_dir=tmp_path), ConnectionResolver(env=env))


def test_intake_refuses_a_source_without_a_secret_and_duplicate_source_names(tmp_path: Path) -> None:
    write(tmp_path, "tilda: {format: tilda, connection: website_tilda}\n")
    with pytest.raises(ConfigError, match="has no password"):
        served_sources(hub_with(tmp_path, {"website_tilda": {"conn_type": "hub_website"}}))
    write(tmp_path, "tilda: {format: tilda, connection: website_tilda}\n", exchange="forms_two")
    with pytest.raises(ConfigError, match="defined by both 'forms' and 'forms_two'"):
        served_sources(hub_with(tmp_path, {"website_tilda": {"conn_type": "hub_website", "password": "x"}}))


def test_intake_serves_the_webhook_sources_of_the_chosen_exchange(tmp_path: Path) -> None:
    write(tmp_path, """\
        tilda: {format: tilda, connection: website_tilda}
        shop: {format: plain, mode: poll, connection: api, poll: {path: /api}}
        wp: {format: wpforms, connection: website_wp, auth: {method: hmac, header: X-Sig}}
        """)
    hub = hub_with(tmp_path, {"website_tilda": {"password": "a"}, "website_wp": {"password": "b"}})
    served = {source.name: source for source in served_sources(hub, ["forms"])}
    assert sorted(served) == ["tilda", "wp"]  # a poll source has no endpoint
    assert served["tilda"].auth.method == "token" and served["tilda"].auth.query == "token"  # Tilda's default
    assert served["wp"].auth.header == "X-Sig"
    assert "'a'" not in repr(served["tilda"]) and served["tilda"].secret.get_secret_value() == "a"  # never shown
    with pytest.raises(ConfigError, match="no website webhook sources in exchange"):
        served_sources(hub, ["other"])
