"""Click-to-call as a target connector: writing a record to entity ``originate`` places a call.

The PBX first rings the manager's extension (``channel``), and when the manager answers it dials the
customer's number in ``context``. The request id travels on the channel as a variable (the correlation
variable, ``HUB_REQUEST`` by default) and in the ActionID (``hub-c2c:<request id>:<idempotency key>``), so
the AMI listener can match the ``OriginateResponse`` and the call record to the request.

Ringing a customer cannot be undone or repeated safely. Each request is claimed in the hub database
(``telephony_originates``, unique per PBX and request) before its Originate is sent, and ``lookup`` finds
claimed requests: whatever runs again (a retry after a lost response, a new mapping version, a second
worker), a request rings once. Each action ends in one of:

* ``created``: the PBX queued the call;
* ``unchanged``: the request was dialed already (the ActionID of that call is the target key);
* rejected ``BusinessError``: the PBX refused the Originate (nothing rings; the claim is released);
* rejected ``DependencyMissing``: the PBX was unreachable and nothing was sent (replayed automatically
  on the next run);
* rejected ``OutcomeUnknown``: sent (or interrupted while sending), but the PBX never confirmed it. The
  claim stays, so it is never sent again by itself: an operator checks the PBX, then discards the dead
  letter (or deletes the claim to dial again).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.telephony.client import AmiSession
from connectors.telephony.config import PbxConfig, pbx_config
from connectors.telephony.record import NumberPlan
from connectors.telephony.state import OriginateJournal
from hub.connector import Capabilities, Connector, EntityInfo, FieldInfo, Record, WriteAction, WriteResult
from hub.errors import BusinessError, ConfigError, DataError, DependencyMissing, OutcomeUnknown, RetriableError
from hub.state import make_engine

ENTITY = "originate"
PLACEHOLDERS = {"request_id", "extension", "number"}
FIELDS = ("request_id", "extension", "number", "action_id")


class OriginateOptions(BaseModel):
    """``target.options`` of a click-to-call mapping. Texts may use {request_id}, {extension}, {number}."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str = Field("Local/{extension}@from-internal", description="what rings first: the manager's phone")
    context: str = Field("from-internal", description="dialplan context the number is dialed in")
    caller_id: str = Field('"{number}" <{number}>', description="shown on the manager's phone")
    timeout: int = Field(30, ge=1, le=300, description="seconds the manager's phone rings")
    variables: dict[str, str] = Field(default_factory=dict, description="more channel variables")

    @field_validator("channel", "context", "caller_id")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name}
        unknown = names - PLACEHOLDERS
        if unknown:
            raise ValueError(f"unknown placeholder(s) {sorted(unknown)}; use {sorted(PLACEHOLDERS)}")
        return value


class AmiOriginateConnector(Connector):
    name: ClassVar[str] = "telephony_ami"
    capabilities: ClassVar[Capabilities] = Capabilities(read=False, lookup=True, write_modes=frozenset({"create"}))
    target_options: ClassVar[type[BaseModel]] = OriginateOptions
    _session: AmiSession | None = None  # kept between writes; responses only (Events: off)

    @cached_property
    def config(self) -> PbxConfig:
        return pbx_config(self.connection, self.settings)

    @cached_property
    def _plan(self) -> NumberPlan:
        return NumberPlan(self.config.region, self.config.extension_pattern)

    @cached_property
    def journal(self) -> OriginateJournal:
        return OriginateJournal(make_engine(self.settings.state_url), self.config.name)

    def close(self) -> None:
        self._drop_session()
        if "journal" in self.__dict__:
            self.journal.engine.dispose()

    def check(self) -> str:
        session = AmiSession(self.config, events=False)
        session.open()
        try:
            session.ping()
        finally:
            session.close()
        return f"{self.config.where}: AMI login and ping work"

    def describe(self, entity: str) -> EntityInfo | None:
        if entity != ENTITY:
            return None
        fields = {name: FieldInfo(name, "string", nullable=name == "action_id") for name in FIELDS}
        return EntityInfo(ENTITY, fields, ("action_id",), unique_keys=(("request_id",),))

    def target_key_field(self, entity: str) -> str | None:
        return "action_id" if entity == ENTITY else None

    def lookup(self, entity: str, by: Sequence[str], values: Sequence[tuple[Any, ...]],
               fields: Sequence[str]) -> dict[tuple[Any, ...], Record]:
        """Requests dialed already, by ``request_id`` or by the call's ``action_id`` (its target key)."""
        if tuple(by) not in (("request_id",), ("action_id",)):
            raise ConfigError(f"{self.config.where}: placed calls are found by request_id or action_id, not {by}")
        found = self.journal.find([str(value[0]) for value in values], by=by[0])
        # a claim never confirmed is not "found": writing it again reports it (OutcomeUnknown) instead
        return {value: {name: found[str(value[0])][name] for name in FIELDS}
                for value in values if found.get(str(value[0]), {}).get("status") == "queued"}

    def prepare(self, entity: str, record: Record) -> Record:
        request_id = str(record.get("request_id") or "").strip()
        extension = str(record.get("extension") or "").strip()
        number = str(record.get("number") or "").strip()
        if not request_id:
            raise DataError("the call request has no id (field request_id)")
        if not self._plan.is_extension(extension):
            raise DataError(f"extension {extension!r} is not an internal extension (field extension)")
        if not number or not (number.startswith("+") or self._plan.is_extension(number)):
            raise DataError(f"no number to call: {record.get('number')!r} is not a phone number (field number)")
        return {"request_id": request_id, "extension": extension, "number": number}

    def write(self, entity: str, actions: Sequence[WriteAction], options: BaseModel) -> list[WriteResult]:
        assert isinstance(options, OriginateOptions)
        results = []
        for action in actions:
            if action.kind != "create":
                results.append(WriteResult(action.source_key, "rejected", error=BusinessError(
                    "a placed call cannot be changed or deleted; create a new call request instead")))
                continue
            results.append(self._originate(action, options))
        return results

    def _originate(self, action: WriteAction, options: OriginateOptions) -> WriteResult:
        values: dict[str, Any] = {**action.match, **action.fields}
        request_id = str(values["request_id"])
        action_id = f"{self.config.originate_prefix}:{request_id}:{action.idempotency_key[:16]}"
        try:
            session = self._open()
        except RetriableError as exc:
            return WriteResult(action.source_key, "rejected", error=DependencyMissing(
                f"the PBX is unreachable, nothing was sent ({exc}); the request is retried on the next run"))
        earlier = self.journal.claim(request_id, action_id, str(values["extension"]), str(values["number"]))
        if earlier is not None and earlier["status"] == "queued":
            return WriteResult(action.source_key, "unchanged", target_key=earlier["action_id"])  # never twice
        if earlier is not None:
            return WriteResult(action.source_key, "rejected", error=OutcomeUnknown(
                "an earlier attempt to dial this request was interrupted before the PBX confirmed it; check on "
                "the PBX whether the call was placed: it is not sent again by itself"))
        fields = [("ActionID", action_id), ("Channel", options.channel.format_map(values)),
                  ("Context", options.context.format_map(values)), ("Exten", values["number"]), ("Priority", "1"),
                  ("CallerID", options.caller_id.format_map(values)), ("Timeout", str(options.timeout * 1000)),
                  ("Async", "true")]
        variables = {self.config.correlation_variable: request_id, **options.variables}
        try:
            answer = session.action("Originate", fields, variables, timeout=self.config.ping_timeout)
        except RetriableError as exc:
            self._drop_session()
            return WriteResult(action.source_key, "rejected", error=OutcomeUnknown(
                f"the Originate was sent but the PBX did not confirm it ({exc}); check on the PBX whether the "
                "call was placed: it is not sent again by itself"))
        if answer.get("Response", "").lower() != "success":
            self.journal.release(request_id)
            return WriteResult(action.source_key, "rejected", error=BusinessError(
                f"the PBX refused the call: {answer.get('Message') or answer.get('Response')}"))
        self.journal.confirm(request_id)
        return WriteResult(action.source_key, "created", target_key=action_id)

    def _open(self) -> AmiSession:
        if self._session is not None and self._session.alive:
            return self._session
        self._drop_session()
        session = AmiSession(self.config, events=False)  # responses only: outcomes come to the listener
        session.open()
        self._session = session
        return session

    def _drop_session(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
