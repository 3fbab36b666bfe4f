"""From a sender's payload to one normalized :class:`Submission`, the same for every site builder.

A :class:`SenderFormat` is mostly data: where each normalized field usually is in that sender's payload
(``fields``), which of its fields are noise (cookies, API keys, anti-spam tokens) and how it authenticates
by default. Three hooks cover what data cannot say: :meth:`~SenderFormat.unwrap` reshapes a nested
payload into fields, :meth:`~SenderFormat.complete` derives values no single field holds (Tilda's UTM
cookie), :meth:`~SenderFormat.is_test_ping` recognises a sender's "are you there" request.

Field paths: a key (``Phone``), a path through nested objects with ``/`` (``contacts/phone``), or a key
pattern with ``*`` (``form_email_*``). A step ``[property=value]`` picks, from a list, the first object whose
``property`` is ``value`` (``answers/[q=Комментарий]/a``: the answer to the question "Комментарий"; ``*`` in
the value is a wildcard). Keys and selected values match without regard to case. A source's ``fields:`` in
the mapping replaces the format's default for the fields it names.

A normalized field is text as sent: a value of another JSON type (a list where a name belongs, a number
where a phone belongs) is :class:`WrongType`, never joined or converted; ids and times may also be integers.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from connectors.website.config import NORMALIZED_FIELDS, Auth, FormSource, TokenAuth

Data = dict[str, Any]
Paths = tuple[str, ...]

#: fields never stored, whatever the sender: session cookies, credentials, anti-spam tokens
NOISE: Paths = (
    "cookie", "cookies", "*api_key*", "*apikey*", "x-api-key", "*token*", "*secret*", "*password*", "sessid",
    "*captcha*", "cf-turnstile-response", "_wpnonce",
)
#: where UTM tags are unless a format says otherwise (hidden fields named as in the landing page URL)
UTM_FIELDS: dict[str, Paths] = {f"utm_{tag}": (f"utm_{tag}",) for tag in ("source", "medium", "campaign",
                                                                          "content", "term")}
MAX_ANSWERS = 100
#: normalized fields a sender may send as a JSON integer (ids, a Unix time); every other field is text only
INTEGER_FIELDS = frozenset({"submission_id", "form_id", "submitted_at"})


class WrongType(ValueError):
    """A sender field mapped to a normalized field holds a value of the wrong JSON type."""

    def __init__(self, key: str, field: str, value: Any):
        self.key = key
        self.field = field
        allowed = "text or an integer" if field in INTEGER_FIELDS else "text"
        super().__init__(f"field {key[:100]!r} ({field}) must be {allowed}, not {json_type(value)}")


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    return {dict: "an object", list: "a list", float: "a number", int: "a number", str: "text"}.get(
        type(value), type(value).__name__)


@dataclass(frozen=True)
class Submission:
    """A form submission in the hub's own shape: what the inbox stores and the exchange maps."""

    source: str  # the configured source name
    format: str
    values: dict[str, str]  # normalized field -> text, only the fields the sender filled
    answers: tuple[tuple[str, str], ...] = ()  # the sender's other fields: (question, answer)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def payload(self) -> dict[str, Any]:
        # answers are objects with two keys, never one: the hub's JSON codec reads a one-key object such as
        # {"$date": ...} as a typed value, and a sender must not be able to smuggle one in
        return {"source": self.source, "format": self.format, **{f: self.values.get(f) for f in NORMALIZED_FIELDS},
                "answers": [{"question": q, "answer": a} for q, a in self.answers]}


class SenderFormat:
    name: ClassVar[str]
    label: ClassVar[str]  # for people: docs, OpenAPI
    fields: ClassVar[Mapping[str, Paths]] = {}
    noise: ClassVar[Paths] = ()
    #: top-level fields that are the sender's envelope: never answers, even when not mapped
    envelope: ClassVar[Paths] = ()
    default_auth: ClassVar[Auth] = TokenAuth()

    # -- hooks
    def is_test_ping(self, data: Data) -> bool:
        return False

    def unwrap(self, data: Data) -> Data:
        """The payload as fields (a sender that nests its fields flattens them here)."""
        return data

    def complete(self, values: dict[str, str], data: Data, raw: Data) -> Iterable[str]:
        """Fill normalized values that no single field holds (``data`` is unwrapped, ``raw`` as sent);
        return the fields of ``data`` used for them (they are not answers then)."""
        return ()

    def answers(self, data: Data, raw: Data, skip: set[str], noise: Paths) -> Iterator[tuple[str, str]]:
        """The sender's other fields as (question, answer) pairs (``skip``: keys used, folded)."""
        for key, value in data.items():
            if key.casefold() in skip or matches(key, noise):
                continue
            yield from flatten(key, value, noise)

    # -- the common algorithm
    def paths(self, source: FormSource, field: str) -> Paths:
        configured = source.fields.get(field)  # type: ignore[call-overload]
        if configured is not None:
            return tuple(configured)
        return self.fields.get(field) or UTM_FIELDS.get(field, ())

    def noise_for(self, source: FormSource) -> Paths:
        extra = (source.auth.field,) if isinstance(source.auth, TokenAuth) and source.auth.field else ()
        return NOISE + self.noise + tuple(source.drop) + extra

    def normalize(self, source_name: str, source: FormSource, raw: Data) -> Submission:
        data = self.unwrap(raw)
        fields = Fields(data)
        values: dict[str, str] = {}
        used: set[str] = {key.casefold() for key in self.envelope}
        for field in NORMALIZED_FIELDS:
            for path in self.paths(source, field):
                key, text = first_text(fields, path, field)
                if text:
                    values[field] = text
                    used.add(key.casefold())
                    break
        used.update(key.casefold() for key in self.complete(values, data, raw))
        answers: tuple[tuple[str, str], ...] = ()
        if source.keep_answers:
            answers = tuple(pair for pair in self.answers(data, raw, used, self.noise_for(source)) if pair[1])
            answers = answers[:MAX_ANSWERS]
        return Submission(source_name, self.name, values, answers)


# -- finding values -------------------------------------------------------------------------------------

class Fields:
    """A payload's top-level keys, found without regard to case through one index (not a scan per lookup)."""

    def __init__(self, data: Data):
        self.data = data
        self._folded: dict[str, str] = {}
        for key in data:
            self._folded.setdefault(key.casefold(), key)

    def key(self, name: str) -> str | None:
        return name if name in self.data else self._folded.get(name.casefold())

    def keys(self, pattern: str) -> list[str]:
        if "*" not in pattern:
            found = self.key(pattern)
            return [] if found is None else [found]
        folded = pattern.casefold()
        return [key for key in self.data if fnmatch.fnmatchcase(key.casefold(), folded)]


def first_text(fields: Fields, path: str, field: str) -> tuple[str, str | None]:
    """(top-level key used, text) of the first non-empty value at ``path`` for the normalized ``field``;
    ('', None) if none. A value of the wrong JSON type raises :class:`WrongType`."""
    steps = [path] if fields.key(path) is not None else split_path(path)  # a key may contain '/' itself
    for top in fields.keys(steps[0]):
        node: Any = fields.data[top]
        for step in steps[1:]:
            node = _step(node, step)
        text = field_text(node, field, top if len(steps) == 1 else path)
        if text:
            return top, text
    return "", None


def split_path(path: str) -> list[str]:
    """``a/[q=x/y]/b`` -> ``['a', '[q=x/y]', 'b']``: a '/' inside a selector's brackets is part of its value."""
    steps: list[str] = []
    start = depth = 0
    for position, char in enumerate(path):
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(depth - 1, 0)
        elif char == "/" and depth == 0:
            steps.append(path[start:position])
            start = position + 1
    steps.append(path[start:])
    return steps


def selector(step: str) -> tuple[str, str] | None:
    """``[q=Комментарий]`` -> ``('q', 'Комментарий')``; None for a plain key."""
    if not (step.startswith("[") and step.endswith("]")) or "=" not in step:
        return None
    name, _, value = step[1:-1].partition("=")
    return name.strip(), value.strip()


def _step(node: Any, step: str) -> Any:
    picked = selector(step)
    if picked is None:
        found = _key(node, step) if isinstance(node, dict) else None
        return node[found] if found is not None else None
    name, wanted = picked
    folded = wanted.casefold()
    for item in node if isinstance(node, list) else ():
        found = _key(item, name) if isinstance(item, dict) else None
        text = as_text(item[found]) if found is not None else None
        if text is not None and fnmatch.fnmatchcase(text.casefold(), folded):
            return item
    return None


def _key(node: Mapping[str, Any], name: str) -> str | None:
    if name in node:
        return name
    folded = name.casefold()
    return next((key for key in node if key.casefold() == folded), None)


def field_text(value: Any, field: str, key: str) -> str | None:
    """The text of a value for a normalized field: a string (or, for ids and times, an integer), also inside
    an object's 'value' (Elementor, Sitecliq); None when empty; :class:`WrongType` for anything else."""
    inner = _key(value, "value") if isinstance(value, dict) else None
    if inner is not None:
        value = value[inner]
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool) and field in INTEGER_FIELDS:
        return str(value)
    raise WrongType(key, field, value)


def as_text(value: Any) -> str | None:
    """A value as one line of text: lists joined with ', ', objects by their 'value' (Elementor, Sitecliq)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        parts = [text for text in (as_text(item) for item in value) if text]
        return ", ".join(parts) or None
    if isinstance(value, dict):
        inner = _key(value, "value")
        return as_text(value[inner]) if inner is not None else None
    return None


def matches(key: str, patterns: Paths) -> bool:
    folded = key.casefold()
    return any(fnmatch.fnmatchcase(folded, pattern.casefold()) for pattern in patterns)


def flatten(label: str, value: Any, noise: Paths) -> Iterator[tuple[str, str]]:
    """(label, text) pairs of a value; nested objects give 'outer / inner' labels, noise keys are skipped."""
    if isinstance(value, dict) and _key(value, "value") is None:
        for key, inner in value.items():
            if not matches(key, noise):
                yield from flatten(f"{label} / {key}", inner, noise)
        return
    text = as_text(value)
    if text:
        yield label, text
