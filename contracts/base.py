"""Base classes and shared field types for the contract models."""

import functools
import types
import unicodedata
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal, NoReturn, Union, get_args, get_origin
from uuid import UUID

import orjson
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

# Passwords are taken exactly as given: no stripping, no normalisation (SPEC 4.5).
NewPassword = Annotated[str, Field(min_length=8, max_length=128)]
# A login attempt never reveals the policy; the bound only keeps hashing cheap.
GivenPassword = Annotated[str, Field(min_length=1, max_length=1024)]
Slug = Annotated[
    str,
    StringConstraints(min_length=3, max_length=63, pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])$"),
]
# Names other users see (a person's, a tenant's, a role's, a file's) must read as they
# are, so none of:
# - control characters (C1 too: U+009B is a terminal's CSI), line and paragraph separators;
# - format characters (Unicode Cf): the bidirectional controls that make "x\u202etxt.exe"
#   display as "xexe.txt", zero-width spaces that make "own\u200ber" another name that
#   looks like "owner", invisible tags. Except the zero-width joiner and non-joiner, which
#   emoji sequences and Persian and Indic spelling need.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_JOINERS = frozenset({"\u200c", "\u200d"})
# Letters that show as nothing: the Hangul fillers, the blank Braille pattern.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800") | _JOINERS


def readable(value: str, *, also_blank: str = "") -> str:
    """``value``, if it reads as it is (see above) and shows something besides spaces,
    blank letters and ``also_blank``."""
    if any(unicodedata.category(ch) in _HIDDEN_CATEGORIES and ch not in _JOINERS for ch in value):
        raise ValueError("must not contain control, format or invisible characters")
    if all(ch.isspace() or ch in BLANK_LETTERS or ch in also_blank for ch in value):
        some = ", ".join(["spaces", *(f"'{ch}'" for ch in also_blank)])
        raise ValueError(f"must show something: not only {some} or blank characters")
    return value


def escaped(value: str, limit: int) -> str:
    """Anyone's text made safe to show: every character ``readable`` refuses written as
    ``\\uXXXX``, and at most ``limit`` characters (an ellipsis marks a cut)."""
    shown = "".join(
        f"\\u{ord(ch):04x}"
        if unicodedata.category(ch) in _HIDDEN_CATEGORIES and ch not in _JOINERS
        else ch
        for ch in value
    )
    return shown if len(shown) <= limit else shown[: limit - 1] + "\u2026"


# A person's or a tenant's name: shown in lists, mails and logs.
DisplayName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(readable),
]
MAX_EMAIL_CHARS = 254


def _email(value: str) -> str:
    """An address as email-validator normalises it (domain lowercased, Unicode NFC), with
    no deliverability check. Domains under ``.test`` (RFC 6761, reserved for testing) are
    accepted, as integration suites create users there; ``localhost``, ``.local`` and the
    other special-use names are still refused (docs/security.md)."""
    if "\r" in value or "\n" in value:
        raise ValueError("value is not a valid email address: no line breaks")
    try:
        checked = validate_email(value.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None
    return checked.normalized


Email = Annotated[
    str,
    Field(max_length=MAX_EMAIL_CHARS),
    AfterValidator(_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": MAX_EMAIL_CHARS}),
]
Token = Annotated[str, Field(min_length=1, max_length=4096)]
# A token presented to be verified (a refresh): any string, so that an empty, overlong or
# garbled one is what SPEC 4 says it is, an invalid token (401), not a malformed body.
PresentedToken = Annotated[
    str, WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 4096})
]


def _claimed_email(value: str) -> str:
    """An address someone says is theirs (login, reset request): normalised like
    ``Email`` when it is one; kept as given otherwise, since it then names no account and
    gets the unknown account's answer (401, 202), not a 400 that says why (SPEC 4.3)."""
    try:
        return _email(value)
    except ValueError:
        return value.strip()


ClaimedEmail = Annotated[
    str,
    Field(min_length=1, max_length=1024),
    AfterValidator(_claimed_email),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 1024}),
]
# A tenant someone names at login or in a reset request: any slug-like text, lower-cased
# (slugs are); one that cannot exist is simply unknown (401, 202), like one that does not.
TenantRef = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=255)
]


_INT64 = range(-(2**63), 2**63)
_FLOAT_BOUND = float(2**63)
# Deeper than any legitimate body (tenant settings included). Without a bound, a body
# nested ~1,000 levels (orjson parses up to 1,024) would exhaust the interpreter's
# recursion limit somewhere downstream: a 500 instead of a 400 (SPEC 7).
MAX_NESTING = 32
# The request fields that hold a password (by path in the body): only ever hashed, never
# stored as text, so SPEC 4.5's "any Unicode, verified exactly as given" includes U+0000,
# which every other text field refuses (a "password" key inside tenant settings is stored).
HASHED_ONLY = frozenset({"password", "current_password", "new_password", "owner.password"})


def _reject_unstorable(value: Any) -> None:
    """Walk the body without recursion, whatever its depth (an explicit stack). A refusal
    names the field it found (``details`` lists fields, SPEC 4), e.g. ``owner.name``.

    Built for a 1 MiB body of half a million items: a container's scalars are checked in
    place, only containers go on the stack, and a path is spelled only for a refusal
    (each container carries its key and its parent's entry instead)."""
    pending: list[tuple[Any, int, Any]] = [(value, 0, None)]
    while pending:
        item, depth, place = pending.pop()
        if not isinstance(item, dict | list):
            _check_scalar(item, place)
            continue
        if depth >= MAX_NESTING:
            _check_depth(place)
        depth += 1
        if isinstance(item, dict):
            for key in item:
                if "\x00" in key:
                    _check_scalar(key, place)
            pairs: Any = item.items()
        else:
            pairs = enumerate(item)
        for key, child in pairs:
            kind = type(child)
            if kind is str:
                if "\x00" in child:
                    _check_scalar(child, (key, place))
            elif kind is int:
                if child not in _INT64:
                    _check_scalar(child, (key, place))
            elif kind is dict or kind is list:
                if child:
                    pending.append((child, depth, (key, place)))
                elif depth >= MAX_NESTING:
                    _check_depth((key, place))
            elif kind is not bool and kind is not type(None):
                _check_scalar(child, (key, place))


def _check_depth(place: Any) -> NoReturn:
    _refuse(_path(place), f"values must not be nested more than {MAX_NESTING} levels")


def _check_scalar(item: Any, place: Any) -> None:
    if isinstance(item, str):
        if "\x00" in item:
            path = _path(place)
            if path not in HASHED_ONLY:
                _refuse(path, "text must not contain NUL characters")
    elif isinstance(item, bool):
        return
    elif isinstance(item, int):
        if item not in _INT64:
            _refuse(_path(place), "integers must fit in 64 bits")
    elif isinstance(item, float) and not -_FLOAT_BOUND < item < _FLOAT_BOUND:
        # PostgreSQL's jsonb keeps 1e23 as the exact integer 10^23, which then comes
        # back as an integer no JSON encoder here can write (a 500 otherwise).
        _refuse(_path(place), "numbers must lie within ±2^63")


def _path(place: Any) -> str:
    """``owner.name`` from the chain of (key, parent) a walked item carries."""
    keys: list[str] = []
    while place is not None:
        key, place = place
        keys.append(str(key))
    return ".".join(reversed(keys))


def _containers(annotation: Any) -> frozenset[type]:
    """The JSON containers (dict, list) a field of this type takes that the walk must
    look into. A container of another kind is refused by the type alone, and a nested
    request model walks its own fields (with their paths under the field's)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _containers(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return frozenset().union(*(_containers(arg) for arg in get_args(annotation)))
    if origin is Literal or annotation is type(None):
        return frozenset()
    if isinstance(annotation, type) and issubclass(annotation, (Request, *_SCALARS)):
        return frozenset()
    if isinstance(origin, type) and issubclass(origin, Mapping):
        return frozenset({dict})
    if isinstance(origin, type) and issubclass(origin, Sequence | AbstractSet):
        return frozenset({list})
    return frozenset({dict, list})  # Any, a view model, ...


_SCALARS = (str, int, float, bool, UUID, date, datetime, Enum, bytes)


def _json_size(value: dict[Any, Any] | list[Any]) -> int:
    """The length of ``value``'s compact JSON text; 0 when orjson cannot write it (only
    a value built in Python, not one parsed from a body: a key that is not text, an
    integer beyond 64 bits), which the walk and the fields then refuse by name."""
    try:
        return len(orjson.dumps(value))
    except orjson.JSONEncodeError:
        return 0


def _refuse(path: str, reason: str) -> NoReturn:
    # The model validator runs before the fields, so pydantic gives it no location:
    # ``field`` carries it to ``contracts.envelope.validation_details``.
    raise PydanticCustomError("value_error", reason, {"field": path or "body"})


@functools.cache
def _fields_of(model: type[BaseModel]) -> dict[str, frozenset[type]]:
    """A request model's keys (names and aliases), each with the containers it takes."""
    fields: dict[str, frozenset[type]] = {}
    for name, field in model.model_fields.items():
        for key in {name, field.alias or name}:
            fields[key] = _containers(field.annotation)
    return fields


class Request(BaseModel):
    """A request body: unknown fields are refused so typos do not pass silently.

    NUL characters are refused everywhere but in passwords (PostgreSQL text cannot hold
    them, and no legitimate name or email needs one; a password is only hashed), and so
    are integers beyond 64 bits
    (events carrying them could not be encoded for other systems) and values nested
    deeper than ``MAX_NESTING``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Top-level string fields that are only ever parsed, never stored: a path id (a UUID
    # or 404, ``contracts.paging.ResourceId``), a token to verify (valid or 401). A NUL in
    # one makes it unknown or invalid like any other malformed value, not a 400 that
    # tells it apart.
    parsed_only: ClassVar[frozenset[str]] = frozenset({"id"})
    # Free-form fields (JSON of any shape) with a ceiling on their JSON text, in bytes:
    # checked first, in a few milliseconds, because the walk below takes ~0.25 s for a
    # 1 MiB body of tiny lists, and blocks the worker's event loop meanwhile.
    bounded: ClassVar[dict[str, int]] = {}

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data  # pydantic refuses anything but an object, unread
        # Only what the fields will take is walked: an unknown key, or a container the
        # field's type does not take, is refused by pydantic without a look inside.
        for key, limit in cls.bounded.items():
            value = data.get(key)
            if isinstance(value, dict | list) and _json_size(value) > limit:
                _refuse(key, f"at most {limit} bytes of JSON")
        fields = _fields_of(cls)
        _reject_unstorable(
            {
                key: value
                for key, value in data.items()
                if key in fields
                and not (key in cls.parsed_only and isinstance(value, str))
                and (type(value) in fields[key] or not isinstance(value, dict | list))
            }
        )
        return data


class Empty(Request):
    """A request that carries no fields."""


class View(BaseModel):
    """A response body."""

    model_config = ConfigDict(frozen=True)


class Pong(View):
    """A family's answer to the readiness ping."""

    family: str
