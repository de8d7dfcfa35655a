"""The awsJson1_1 protocol, sans I/O: bytes in, objects out.

``build_request`` turns an operation and its parameters into the method, path,
headers and body to send (unsigned); ``parse_response`` turns the status,
headers and body that came back into a result model or a :class:`ServiceError`
instance (returned, not raised, so that the retry loop can inspect it).

This module never touches a socket, a clock or credentials; tests feed it bytes.

Error type resolution follows the Smithy awsJson1_1 protocol tests: the
``x-amzn-ErrorType`` header, else the body's ``__type``, else the body's
``code``, else the HTTP status; then everything from the first ``:`` and
everything up to the last ``#`` are dropped.  Lightsail error bodies carry their
own ``code`` member (a sub-code like ``DoesNotExist``) *beside* ``__type``, so
``code`` is only a fallback, never preferred.

Error messages can quote secrets: AWS answers a signature mismatch with the
canonical request it computed, ``x-amz-security-token:<token>`` line included.
:func:`parse_error` redacts, from every member it keeps and from the headers,
the secrets the client hands it and any security-token value, so no
:class:`ServiceError` (its message, ``response``, ``details``, ``str()``,
pickle) and nothing that prints one ever carries them.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, Literal, NamedTuple, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from lightsail_images._errors import (
    MalformedResponseError,
    ServiceError,
    service_error_class,
)
from lightsail_images._models import ResponseMetadata
from lightsail_images._validation import CrossRule, Param

__all__ = [
    "CONTENT_TYPE",
    "TARGET_PREFIX",
    "HttpRequest",
    "HttpResponse",
    "Operation",
    "build_request",
    "converter",
    "error_code",
    "parse_error",
    "parse_response",
    "redact",
    "structure",
    "to_json",
    "wire_members",
]

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "Lightsail_20161128"

R = TypeVar("R")


class Operation(Generic[R]):
    """An API operation, described as data (immutable).

    Attributes:
        name: the API's operation name, e.g. ``"RegisterContainerImage"``.
        params: the input parameters in the API's member order.
        result: returns the result model, whose fields are the body's members
            in snake_case plus ``response_metadata``.  A function, so that the
            models of operations a script does not call need not be loaded
            (see ``_models.py``); :attr:`output` calls it.
        cross_rules: checks that look at several parameters together.

    """

    # Not an attrs class, nor are the other internal records (named tuples
    # here and in ``_validation`` and ``_config``; this one is generic, which
    # a NamedTuple can be only from Python 3.11): a frozen attrs class costs
    # about 25 KiB of memory and its compile time at import, and every script
    # pays for these.  The public models stay attrs classes.
    __slots__ = ("cross_rules", "name", "params", "result")

    name: str
    params: tuple[Param, ...]
    result: Callable[[], type[R]]
    cross_rules: tuple[CrossRule, ...]

    def __init__(
        self,
        name: str,
        params: tuple[Param, ...],
        result: Callable[[], type[R]],
        cross_rules: tuple[CrossRule, ...] = (),
    ) -> None:
        set_field = object.__setattr__
        set_field(self, "name", name)
        set_field(self, "params", params)
        set_field(self, "result", result)
        set_field(self, "cross_rules", cross_rules)

    def __setattr__(self, name: str, value: object) -> None:
        msg = f"Operation is immutable: cannot set {name!r}"
        raise AttributeError(msg)

    def __repr__(self) -> str:
        return f"Operation({self.name!r})"

    @property
    def output(self) -> type[R]:
        """The result model."""
        return self.result()


class HttpRequest(NamedTuple):
    """An unsigned request: what to send, before the signer adds its headers."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


class HttpResponse(NamedTuple):
    """A response as it came off the wire; header names are lowercased."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes


# --- the private converter -------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _structure_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        msg = f"expected a string, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def _structure_optional_str(value: Any, _: type) -> str | None:
    if value is None:
        return None
    return _structure_str(value, str)


def _structure_timestamp(value: Any, _: type) -> dt.datetime:
    # awsJson sends epoch seconds, possibly fractional; accept ISO 8601 too,
    # as botocore does, should the service ever switch.
    if isinstance(value, bool):
        msg = "expected epoch seconds, got bool"
        raise TypeError(msg)
    if isinstance(value, int | float):
        try:
            return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
        except (OverflowError, OSError, ValueError) as exc:
            msg = f"timestamp {value!r} is out of range"
            raise ValueError(msg) from exc
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = dt.datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        return parsed.astimezone(dt.timezone.utc)
    msg = f"expected epoch seconds, got {type(value).__name__}"
    raise TypeError(msg)


def _structure_int(value: Any, _: type) -> int:
    # int("5") and int(2.7) would quietly accept what the API never sends.
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"expected an integer, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def _structure_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        msg = f"expected a boolean, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def _unstructure_timestamp(value: dt.datetime) -> int | float:
    # botocore's awsJson timestamps: whole epoch seconds, or with the
    # microseconds added before one division, so the float is rounded once.
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    seconds = calendar.timegm(value.astimezone(dt.timezone.utc).timetuple())
    if value.microsecond:
        return (seconds * 10**6 + value.microsecond) / 10**6
    return seconds


def _structure_metadata(value: Any, _: type) -> ResponseMetadata:
    # The protocol layer supplies this object itself; the body never does.
    if not isinstance(value, ResponseMetadata):  # pragma: no cover - internal contract
        msg = "response metadata is supplied by the client"
        raise TypeError(msg)
    return value


def _iso_timestamp(value: dt.datetime) -> str:
    # The AWS CLI's output form, always in UTC: "2024-05-01T12:00:00.250000+00:00".
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat()


def _make_converter(
    unstructure_timestamp: Callable[[dt.datetime], Any] = _unstructure_timestamp,
    *,
    detailed: bool = False,
) -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=detailed)

    def structure_tuple(value: Any, cls: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            msg = f"expected a list, got {type(value).__name__}"
            raise TypeError(msg)
        (item_type, _ellipsis) = cls.__args__
        return tuple(conv.structure(item, item_type) for item in value)

    def structure_mapping(value: Any, cls: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            msg = f"expected a JSON object, got {type(value).__name__}"
            raise TypeError(msg)
        (key_type, value_type) = cls.__args__
        return {
            conv.structure(key, key_type): conv.structure(item, value_type)
            for key, item in value.items()
        }

    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(str | None, _structure_optional_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(dt.datetime, _structure_timestamp)
    conv.register_unstructure_hook(dt.datetime, unstructure_timestamp)
    conv.register_structure_hook(ResponseMetadata, _structure_metadata)
    conv.register_structure_hook_func(
        lambda t: getattr(t, "__origin__", None) is tuple,
        structure_tuple,
    )
    conv.register_structure_hook_func(
        lambda t: getattr(t, "__origin__", None) in (Mapping, dict),
        structure_mapping,
    )

    def rename_hook(cls: type[Any]) -> Any:
        overrides = {
            field.name: override(
                rename="ResponseMetadata"
                if field.name == "response_metadata"
                else _camel(field.name)
            )
            for field in attrs.fields(cls)
        }
        # cattrs types the per-field overrides as **kwargs beside its own flags.
        return make_dict_structure_fn(cls, conv, **overrides)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]

    def unstructure_hook(cls: type[Any]) -> Any:
        # Request members: the API's names, and an absent (None) member left
        # out, as botocore leaves out what it was not given.
        overrides = {field.name: override(rename=_camel(field.name)) for field in attrs.fields(cls)}
        return make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **overrides)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]

    conv.register_structure_hook_factory(attrs.has, rename_hook)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_hook)
    return conv


# The one converter for every model, both ways.  It structures without
# cattrs' detailed validation: those generated functions wrap every field in
# its own try block, and compiling them takes about 100 KiB more memory at the
# first call, which no successful call needs.  A document it refuses is
# structured again by :func:`_explaining_converter`, which says where it is wrong.
converter = _make_converter()


@functools.cache
def _explaining_converter() -> cattrs.Converter:
    """Return a converter with the same hooks and detailed validation, built on first use."""
    return _make_converter(detailed=True)


def structure(data: Any, cls: type[R]) -> R:
    """Structure ``data`` as ``cls``, exactly as a converter with detailed validation would.

    The plain converter does it; only when it refuses the data is it done
    again with the same hooks and detailed validation, whose error (a
    :class:`cattrs.BaseValidationError`, which :func:`cattrs.transform_error`
    turns into one line per problem, with its path) is the one raised.

    Raises:
        cattrs.BaseValidationError: ``data`` does not have ``cls``'s shape.

    """
    try:
        return converter.structure(data, cls)
    except Exception:  # noqa: BLE001 - whatever it was, the detailed pass explains it
        explaining = _explaining_converter()
    # Outside the handler, so the detailed error does not chain the plain one.
    return explaining.structure(data, cls)


@functools.cache
def _iso_converter() -> cattrs.Converter:
    """Return a converter with the same names and rules and the AWS CLI's ISO 8601 timestamps.

    For output; built on first use, since only the CLI prints models.
    """
    return _make_converter(_iso_timestamp)


def to_json(model: Any, *, timestamps: Literal["epoch", "iso"] = "epoch") -> Any:
    """Return a model (or a list or tuple of them) as JSON-ready data, in the API's terms.

    The one model-to-JSON conversion: members named as the API names them
    (``createdAt``), ``None`` members left out, and timestamps as the wire
    sends them (``"epoch"``: epoch seconds, as botocore writes them) or as
    the AWS CLI prints them (``"iso"``: ISO 8601 in UTC).  The fake answers
    with the first; the CLI's ``--output json`` prints the second, or the
    first when the profile's ``cli_timestamp_format`` asks for the wire's.
    Dicts, lists and tuples holding models and datetimes are converted too.

    Example::

        to_json(image)["createdAt"]  # 1714564800.25
        to_json(image, timestamps="iso")["createdAt"]  # "2024-05-01T12:00:00.250000+00:00"
    """
    return (converter if timestamps == "epoch" else _iso_converter()).unstructure(model)


def wire_members(model: Any) -> dict[str, Any]:
    """Return a model's members by their API names, values unconverted; ``None`` ones left out.

    For building a document around a model's members (``to_json`` converts
    the values later).

    Example::

        wire_members(result)  # {"deleted": (ContainerImage(...),), "kept": (), "inUse": (), ...}
    """
    return {
        _camel(field.name): value
        for field in attrs.fields(type(model))
        if (value := getattr(model, field.name)) is not None
    }


# --- requests ---------------------------------------------------------------


def build_request(
    operation: Operation[Any],
    values: Mapping[str, Any],
    *,
    endpoint_url: str,
) -> HttpRequest:
    """Serialize an operation call into an unsigned awsJson1_1 request.

    Members are written in the API's order and ``None`` values are omitted, as
    botocore does, so the body bytes match botocore's for the same call.
    """
    payload = {
        param.wire_name: converter.unstructure(values[param.name])
        for param in operation.params
        if values.get(param.name) is not None
    }
    return HttpRequest(
        method="POST",
        url=endpoint_url.rstrip("/") + "/",
        headers={
            "X-Amz-Target": f"{TARGET_PREFIX}.{operation.name}",
            "Content-Type": CONTENT_TYPE,
        },
        body=json.dumps(payload).encode("utf-8"),
    )


# --- responses --------------------------------------------------------------


def _decode_json(body: bytes) -> Any:
    """Decode a JSON body; return ``None`` when it is not JSON at all."""
    if not body.strip():
        return {}
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


# The members every Lightsail error shape declares, in botocore's model.
_MODELED_MEMBERS = ("code", "docs", "message", "tip")

REDACTED = "***"
# A security token's value as a canonical request ("x-amz-security-token:<v>")
# or a presigned URL ("X-Amz-Security-Token=<v>") quotes it.
_TOKEN_VALUE = re.compile(r"(x-amz-security-token\s*[:=]\s*)[^\s'\"&,;]+", re.IGNORECASE)
# Real secret keys are 40 characters and tokens hundreds; replacing shorter
# strings (a local stack's "test") would garble messages and protect nothing.
_MIN_SECRET = 8


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with each secret and any security-token value replaced by ``***``.

    Example::

        redact("x-amz-security-token:IQoJb3Jp...")  # "x-amz-security-token:***"
    """
    for secret in secrets:
        if len(secret) >= _MIN_SECRET and secret in text:
            text = text.replace(secret, REDACTED)
    return _TOKEN_VALUE.sub(lambda match: match.group(1) + REDACTED, text)


def error_code(status_code: int, headers: Mapping[str, str], body: Any) -> str:
    """Resolve the error type of an awsJson1_1 error response.

    ``body`` is the decoded JSON body (anything, or ``None``).
    """
    candidates: list[Any] = [headers.get("x-amzn-errortype")]
    if isinstance(body, dict):
        candidates += [body.get("__type"), body.get("code")]
    for raw in candidates:
        if isinstance(raw, str):
            code = raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()
            if code:
                return code
    return str(status_code)


def _member(body: Any, *names: str) -> str | None:
    if not isinstance(body, dict):
        return None
    for name in names:
        value = body.get(name)
        if isinstance(value, str):
            return value
    return None


def parse_error(
    operation_name: str,
    response: HttpResponse,
    *,
    attempts: int,
    secrets: Iterable[str] = (),
) -> ServiceError:
    """Build (not raise) the :class:`ServiceError` for an error response.

    Never fails: a non-JSON, empty or truncated body still yields an error named
    after the HTTP status.  ``secrets`` (the secret keys and session tokens the
    request may have been signed with) are redacted from every text kept.
    """
    secrets = tuple(secrets)

    def clean(text: str | None) -> str | None:
        return None if text is None else redact(text, secrets)

    body = _decode_json(response.body)
    code = error_code(response.status_code, response.headers, body)
    cls, modeled = service_error_class(code)
    code = redact(code, secrets)
    message = clean(_member(body, "message", "Message"))
    from lightsail_images._error_models import ErrorDetails  # noqa: PLC0415 - only errors pay

    details = ErrorDetails(
        code=clean(_member(body, "code")),
        docs=clean(_member(body, "docs")),
        message=message,
        tip=clean(_member(body, "tip")),
    )
    modeled_members = (
        {
            key: redact(body[key], secrets)
            for key in _MODELED_MEMBERS
            if isinstance(body.get(key), str)
        }
        if modeled and isinstance(body, dict)
        else None
    )
    if body is None and not message:
        message = _describe_non_json(response)
    return cls(
        code=code,
        message=message or "",
        details=details,
        http_status_code=response.status_code,
        request_id=clean(response.headers.get("x-amzn-requestid")),
        operation_name=operation_name,
        attempts=attempts,
        headers={name: redact(value, secrets) for name, value in response.headers.items()},
        modeled_members=modeled_members,
    )


def _describe_non_json(response: HttpResponse) -> str:
    kind = response.headers.get("content-type", "unknown content type").split(";")[0]
    return (
        f"the service (or a proxy in front of it) answered HTTP {response.status_code} "
        f"with a {kind} body that is not an AWS JSON error"
    )


def parse_response(
    operation: Operation[R],
    response: HttpResponse,
    *,
    attempts: int,
    secrets: Iterable[str] = (),
) -> R | ServiceError:
    """Turn a response into the operation's result, or a ServiceError to raise.

    ``secrets`` are redacted from an error's texts (see :func:`parse_error`).

    Raises:
        MalformedResponseError: a 2xx response whose body is not the promised shape.

    """
    request_id = response.headers.get("x-amzn-requestid")
    if not 200 <= response.status_code < 300:  # noqa: PLR2004 - the 2xx range
        return parse_error(operation.name, response, attempts=attempts, secrets=secrets)
    body = _decode_json(response.body)
    if not isinstance(body, dict):
        raise MalformedResponseError(
            f"{operation.name}: the service answered HTTP {response.status_code} with a body "
            "that is not a JSON object; retry later, and quote the request id to AWS support "
            f"if it persists (request id {request_id})",
            http_status_code=response.status_code,
            request_id=request_id,
            attempts=attempts,
        )
    metadata = ResponseMetadata(
        request_id=request_id,
        http_status_code=response.status_code,
        attempts=attempts,
    )
    try:
        return structure({**body, "ResponseMetadata": metadata}, operation.output)
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError) as exc:
        problems = "; ".join(_describe_structure_error(exc))
        raise MalformedResponseError(
            f"{operation.name}: the service's response does not match the API: {problems} "
            f"(HTTP {response.status_code}, request id {request_id})",
            http_status_code=response.status_code,
            request_id=request_id,
            attempts=attempts,
        ) from exc


def _describe_structure_error(exc: Exception) -> list[str]:
    if isinstance(exc, cattrs.BaseValidationError):
        return [
            message.replace("$.", "", 1).replace("ResponseMetadata", "metadata")
            for message in cattrs.transform_error(exc, path="$")
        ]
    return [str(exc)]  # pragma: no cover - cattrs wraps everything in detailed mode
