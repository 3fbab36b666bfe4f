"""Configuration errors name what is wrong (never the secret); click-to-call refuses what cannot be dialed."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from connectors.telephony.config import pbx_config
from connectors.telephony.originate import AmiOriginateConnector, OriginateOptions
from hub.connections import Connection
from hub.connector import parse_options
from hub.errors import ConfigError, DataError
from hub.settings import HubSettings

SECRET = "s3cr3t-value"


def connection(**extra: object) -> Connection:
    return Connection(conn_id="pbx", conn_type="hub_asterisk_ami", host="10.0.0.5", login="hub",
                      password=SecretStr(SECRET), extra=extra)


def test_defaults_come_from_the_hub_settings() -> None:
    config = pbx_config(connection(), HubSettings(timezone="Asia/Yekaterinburg", default_region="KZ"))
    assert (config.port, config.cdr_timezone, config.region) == (5038, "Asia/Yekaterinburg", "KZ")
    assert SECRET not in repr(config) and SECRET not in config.where


@pytest.mark.parametrize(("extra", "problem"), [
    ({"cdr_timezone": "Mars/Olympus"}, "cdr_timezone: Value error, unknown time zone"),
    ({"ping_interval": -1}, "ping_interval"),
    ({"extension_pattern": "(["}, "extension_pattern: Value error, invalid regular expression"),
    ({"pign_interval": 5}, "pign_interval: Extra inputs are not permitted"),
    ({"lease_ttl": 10, "lease_renew_interval": 6}, "extra: Value error, lease_renew_interval (6) must be at most half"),
])
def test_a_wrong_setting_is_a_config_error_naming_it(extra: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        pbx_config(connection(**extra), HubSettings())
    assert problem in str(caught.value) and SECRET not in str(caught.value)


def test_a_connection_without_login_says_so() -> None:
    with pytest.raises(ConfigError, match="login"):
        pbx_config(Connection(conn_id="pbx", host="h"), HubSettings())


def test_originate_options_only_know_their_placeholders() -> None:
    with pytest.raises(ConfigError, match=r"target.options.channel: .*unknown placeholder"):
        parse_options(OriginateOptions, {"channel": "Local/{exten}@phones"}, "target")
    options = parse_options(OriginateOptions, {"channel": "PJSIP/{extension}"}, "target")
    assert isinstance(options, OriginateOptions) and options.timeout == 30


@pytest.mark.parametrize(("record", "problem"), [
    ({"request_id": None, "extension": "101", "number": "+79161234567"}, "no id"),
    ({"request_id": 7, "extension": "Иван", "number": "+79161234567"}, "not an internal extension"),
    ({"request_id": 7, "extension": "101", "number": None}, "no number to call"),
    ({"request_id": 7, "extension": "101", "number": "8 (916) 12"}, "not a phone number"),
])
def test_a_request_that_cannot_be_dialed_is_a_record_error(record: dict[str, object], problem: str) -> None:
    connector = AmiOriginateConnector(connection(), HubSettings())
    with pytest.raises(DataError, match=problem):
        connector.prepare("originate", record)


def test_a_good_request_is_prepared_as_text() -> None:
    connector = AmiOriginateConnector(connection(), HubSettings())
    assert connector.prepare("originate", {"request_id": 7, "extension": "101", "number": "+79161234567"}) == \
        {"request_id": "7", "extension": "101", "number": "+79161234567"}
    assert connector.describe("originate") is not None and connector.describe("calls") is None
