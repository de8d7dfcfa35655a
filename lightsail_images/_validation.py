"""Client-side parameter rules, as data, checked before anything is sent.

Each parameter is a :class:`Param`: its Python name, its wire name and a tuple
of rules.  :func:`validate` runs every rule of every parameter and returns all
problems at once, so a user fixes a call in one round trip.

The name pattern documented for Lightsail, ``^[a-z0-9]{1,2}|[a-z0-9][a-z0-9-]+[a-z0-9]$``,
is meant as a whole-string match of either alternative.  Read literally it
anchors only one side of each alternative, so ``re.search`` would accept
``"ab!!"``; and Python's ``$`` matches before a trailing newline.  We use
``re.fullmatch`` with no anchors, which has neither trap.

This module is pure: no I/O, no clock, no credentials.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol, cast

from lightsail_images._errors import ValidationProblem

__all__ = [
    "NAME_PATTERN",
    "CrossRule",
    "Param",
    "Rule",
    "TypeCheck",
    "containers_rule",
    "containers_type",
    "datetime_type",
    "deployment_cross_rule",
    "digest_of",
    "digest_rule",
    "endpoint_matches_containers",
    "endpoint_rule",
    "endpoint_type",
    "image_belongs_to_service",
    "image_name_rule",
    "is_registered_digest",
    "length_rule",
    "name_rule",
    "service_images_rule",
    "shorten",
    "str_type",
    "validate",
]

NAME_PATTERN = re.compile(r"[a-z0-9]{1,2}|[a-z0-9][a-z0-9-]+[a-z0-9]")

# OCI image-spec, "Digests": algorithm ":" encoded.
_DIGEST_FORM = re.compile(r"(?P<alg>[a-z0-9]+(?:[+._-][a-z0-9]+)*):(?P<enc>[a-zA-Z0-9=_-]+)")
_REGISTERED_DIGESTS = {
    "sha256": re.compile(r"[a-f0-9]{64}"),
    "sha512": re.compile(r"[a-f0-9]{128}"),
}

_SHORTEN_AT = 60


class _Hash(Protocol):
    """The part of a :mod:`hashlib` object a digest is read from."""

    @property
    def name(self) -> str: ...

    def hexdigest(self) -> str: ...


def digest_of(hasher: _Hash) -> str:
    """Return the content digest ``"<algorithm>:<hex>"`` of what ``hasher`` has seen."""
    return f"{hasher.name}:{hasher.hexdigest()}"


def is_registered_digest(value: str) -> bool:
    """Whether ``value`` is a ``sha256:`` or ``sha512:`` digest, lowercase hex of the right length.

    The algorithms a registry must accept; the only ones images are read with.
    """
    form = _DIGEST_FORM.fullmatch(value)
    encoded = _REGISTERED_DIGESTS.get(form["alg"]) if form else None
    return form is not None and encoded is not None and encoded.fullmatch(form["enc"]) is not None


def shorten(value: object) -> str:
    """Return ``repr(value)``, cut in the middle when long, for error messages."""
    text = repr(value)
    if len(text) <= _SHORTEN_AT:
        return text
    keep = (_SHORTEN_AT - 5) // 2
    return f"{text[:keep]}...{text[-keep:]} ({len(str(value))} chars)"


# A rule takes the parameter's name and its (already type-checked) value and
# returns the problems it finds.
Rule = Callable[[str, Any], list[ValidationProblem]]
# A type check: the same, but it runs even with parameter validation off.
TypeCheck = Callable[[str, Any], list[ValidationProblem]]


def str_type(field: str, value: Any) -> list[ValidationProblem]:
    """Check that a value is a ``str``."""
    if isinstance(value, str):
        return []
    return [
        ValidationProblem.of(
            field, "type", f"must be a str, got {type(value).__name__}: {shorten(value)}"
        )
    ]


def length_rule(minimum: int, maximum: int) -> Rule:
    """Return a rule that the length is within ``minimum..maximum``."""

    def check(field: str, value: str) -> list[ValidationProblem]:
        if len(value) < minimum:
            return [
                ValidationProblem.of(
                    field,
                    "min_length",
                    f"must be at least {minimum} character{'s' if minimum > 1 else ''}"
                    f" long, got {len(value)}: {shorten(value)}",
                )
            ]
        if len(value) > maximum:
            return [
                ValidationProblem.of(
                    field,
                    "max_length",
                    f"must be at most {maximum} characters long, got {len(value)}: "
                    f"{shorten(value)}",
                )
            ]
        return []

    return check


def name_rule(field: str, value: str) -> list[ValidationProblem]:
    """Check Lightsail's name pattern: lowercase letters, digits and inner hyphens."""
    if value and NAME_PATTERN.fullmatch(value) is None:
        return [
            ValidationProblem.of(
                field,
                "pattern",
                "must use only lowercase letters a-z, digits and hyphens, and must "
                f"not start or end with a hyphen; got {shorten(value)}",
            )
        ]
    return []


def digest_rule(field: str, value: str) -> list[ValidationProblem]:
    """Check for an OCI content digest such as ``sha256:<64 lowercase hex>``."""
    form = _DIGEST_FORM.fullmatch(value)
    if form is None:
        return [
            ValidationProblem.of(
                field,
                "digest",
                "must be a content digest 'algorithm:hex', for example "
                f"'sha256:' followed by 64 lowercase hex digits; got {shorten(value)}",
            )
        ]
    encoded = _REGISTERED_DIGESTS.get(form["alg"])
    if encoded is None or encoded.fullmatch(form["enc"]) is not None:
        return []
    alg, enc = form["alg"], form["enc"]
    width = 64 if alg == "sha256" else 128
    if encoded.fullmatch(enc.lower()) is not None:
        why = f"the hex digits must be lowercase (a-f, not A-F), got {shorten(value)}"
    elif len(enc) != width:
        why = f"got {len(enc)} characters: {shorten(value)}"
    else:
        why = f"got characters other than 0-9 and a-f: {shorten(value)}"
    return [
        ValidationProblem.of(
            field,
            "digest",
            f"a {alg} digest needs exactly {width} lowercase hex digits after '{alg}:'; {why}",
        )
    ]


def image_name_rule(field: str, value: str) -> list[ValidationProblem]:
    """Check for a registered image name, ``":<service>.<label>.<version>"``."""
    from lightsail_images._image_models import ImageRef  # noqa: PLC0415 - loads on first use

    try:
        ImageRef.parse(value)
    except ValueError:
        return [
            ValidationProblem.of(
                field,
                "image",
                "must be a registered image name ':<service>.<label>.<version>', "
                f"for example ':my-svc.web.3'; got {shorten(value)}",
            )
        ]
    return []


def image_belongs_to_service(values: Mapping[str, Any]) -> list[ValidationProblem]:
    """Check that ``image`` names an image of ``service_name``, not another service's."""
    from lightsail_images._image_models import ImageRef  # noqa: PLC0415 - loads on first use

    service_name, image = values.get("service_name"), values.get("image")
    if not isinstance(service_name, str) or not isinstance(image, str):
        return []
    try:
        ref = ImageRef.parse(image)
    except ValueError:
        return []  # reported by image_name_rule
    if ref.service_name == service_name:
        return []
    # Said without naming another parameter, so that every caller (Python, the
    # command line) can name the fields its own way.
    return [
        ValidationProblem.of(
            "image",
            "image",
            f"{image!r} belongs to container service {ref.service_name!r}, not "
            f"{service_name!r}; name an image of {service_name!r}, or the container "
            f"service {ref.service_name!r}",
        )
    ]


# A check across parameters, run when each parameter is valid on its own.
CrossRule = Callable[[Mapping[str, Any]], list[ValidationProblem]]


class Param(NamedTuple):
    """One operation parameter: its names and rules.

    ``rules`` run only when parameter validation is on; the type check always
    runs, because a wrong type cannot be serialized meaningfully.  A named
    tuple, not an attrs class, like the other internal records (see
    ``_protocol.Operation``).
    """

    name: str
    wire_name: str
    rules: tuple[Rule, ...] = ()
    required: bool = True
    type_check: TypeCheck = str_type


def validate(
    params: tuple[Param, ...],
    values: Mapping[str, Any],
    *,
    check_rules: bool = True,
    cross_rules: tuple[CrossRule, ...] = (),
) -> tuple[ValidationProblem, ...]:
    """Return every problem in ``values``; an empty tuple means all is well."""
    problems: list[ValidationProblem] = []
    for param in params:
        value = values.get(param.name)
        if value is None and not param.required:
            continue
        wrong_type = param.type_check(param.name, value)
        if wrong_type:
            problems.extend(wrong_type)
            continue
        if check_rules:
            for rule in param.rules:
                problems.extend(rule(param.name, value))
    if check_rules and not problems:
        for cross in cross_rules:
            problems.extend(cross(values))
    return tuple(problems)


# --- deployments: containers and the public endpoint -------------------------------
#
# The rules of botocore's lightsail model (ContainerName, ContainerServiceProtocol)
# and of the API reference's prose (health-check ranges, success codes).  The
# fake checks requests with these same functions: container members are one
# word in both spellings, and endpoint members follow the parameter's own
# spelling (``public_endpoint.health_check`` here, ``publicEndpoint.healthCheck``
# on the wire).

_HEALTH_CHECK_RANGES = {
    "healthy_threshold": (2, 10),
    "unhealthy_threshold": (2, 10),
    "timeout_seconds": (2, 60),
    "interval_seconds": (5, 300),
}
_SUCCESS_CODES = re.compile(r"[0-9]{3}(?:-[0-9]{3})?(?:,[0-9]{3}(?:-[0-9]{3})?)*")
_SUCCESS_RANGE = (200, 499)
_PORT_RANGE = (1, 65535)
_CONTAINER_NAME = (1, 53)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _namer(field: str) -> Callable[[str], str]:
    return (lambda name: name) if "_" in field else _camel


def _problem(path: str, rule: str, message: str) -> ValidationProblem:
    root = path.split(".", 1)[0].split("[", 1)[0]
    return ValidationProblem(root, rule, f"{path}: {message}")


def _wrong_type(path: str, value: Any, expected: str) -> list[ValidationProblem]:
    return [
        _problem(path, "type", f"must be {expected}, got {type(value).__name__}: {shorten(value)}")
    ]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def datetime_type(field: str, value: Any) -> list[ValidationProblem]:
    """Check that a value is a ``datetime.datetime`` (naive means UTC)."""
    if isinstance(value, dt.datetime):
        return []
    return _wrong_type(field, value, "a datetime.datetime")


def _string_map_type(path: str, value: Any) -> list[ValidationProblem]:
    if not isinstance(value, Mapping):
        return _wrong_type(path, value, "a mapping of str to str")
    problems: list[ValidationProblem] = []
    for key, item in value.items():
        if not isinstance(key, str):
            problems += _wrong_type(path, key, "keyed by str")
        elif not isinstance(item, str):
            problems += _wrong_type(f"{path}[{key!r}]", item, "a str")
    return problems


def _container_type(path: str, value: Any) -> list[ValidationProblem]:
    from lightsail_images._service_models import Container  # noqa: PLC0415 - loaded on first use

    if not isinstance(value, Container):
        return _wrong_type(path, value, "a lightsail_images.Container")
    problems: list[ValidationProblem] = []
    image: Any = value.image
    if not isinstance(image, str):
        problems += _wrong_type(f"{path}.image", image, "a str (the image is required)")
    command: Any = value.command
    if command is not None and (
        not isinstance(command, tuple | list)
        or not all(isinstance(part, str) for part in cast("tuple[Any, ...]", command))
    ):
        problems += _wrong_type(f"{path}.command", command, "a tuple of str")
    for member in ("environment", "ports"):
        mapping = getattr(value, member)
        if mapping is not None:
            problems += _string_map_type(f"{path}.{member}", mapping)
    return problems


def containers_type(field: str, value: Any) -> list[ValidationProblem]:
    """Check that ``containers`` maps str names to :class:`Container` of well-typed members."""
    if not isinstance(value, Mapping):
        return _wrong_type(
            field, value, "a mapping of container name to lightsail_images.Container"
        )
    problems: list[ValidationProblem] = []
    for name, container in value.items():
        if not isinstance(name, str):
            problems += _wrong_type(field, name, "keyed by str container names")
        else:
            problems += _container_type(f"{field}[{name!r}]", container)
    return problems


def endpoint_type(field: str, value: Any) -> list[ValidationProblem]:
    """Check that the public endpoint is an :class:`EndpointRequest` of well-typed members."""
    from lightsail_images._service_models import EndpointRequest, HealthCheckConfig  # noqa: PLC0415

    name = _namer(field)
    if not isinstance(value, EndpointRequest):
        return _wrong_type(field, value, "a lightsail_images.EndpointRequest")
    problems: list[ValidationProblem] = []
    container_name: Any = value.container_name
    if not isinstance(container_name, str):
        problems += _wrong_type(f"{field}.{name('container_name')}", container_name, "a str")
    if not _is_int(value.container_port):
        problems += _wrong_type(f"{field}.{name('container_port')}", value.container_port, "an int")
    check: Any = value.health_check
    if check is None:
        return problems
    where = f"{field}.{name('health_check')}"
    if not isinstance(check, HealthCheckConfig):
        return [*problems, *_wrong_type(where, check, "a lightsail_images.HealthCheckConfig")]
    for member in _HEALTH_CHECK_RANGES:
        number = getattr(check, member)
        if number is not None and not _is_int(number):
            problems += _wrong_type(f"{where}.{name(member)}", number, "an int")
    for member in ("path", "success_codes"):
        text = getattr(check, member)
        if text is not None and not isinstance(text, str):
            problems += _wrong_type(f"{where}.{name(member)}", text, "a str")
    return problems


def _port_problems(path: str, port: str) -> list[ValidationProblem]:
    low, high = _PORT_RANGE
    if port.isascii() and port.isdigit() and low <= int(port) <= high:
        return []
    return [_problem(path, "port", f"must be a port number {low}-{high} as a string, got {port!r}")]


def containers_rule(field: str, value: Mapping[str, Any]) -> list[ValidationProblem]:
    """Check container names, port numbers and protocols; at least one container."""
    from lightsail_images._service_models import PORT_PROTOCOLS  # noqa: PLC0415 - loaded on first use

    if not value:
        return [_problem(field, "min_length", "a deployment needs at least one container")]
    low, high = _CONTAINER_NAME
    problems: list[ValidationProblem] = []
    for name, container in value.items():
        path = f"{field}[{name!r}]"
        if not low <= len(name) <= high or NAME_PATTERN.fullmatch(name) is None:
            problems.append(
                _problem(
                    path,
                    "pattern",
                    f"a container name must be {low}-{high} lowercase letters a-z, digits "
                    "and hyphens, not starting or ending with a hyphen",
                )
            )
        if not container.image:
            problems.append(_problem(f"{path}.image", "min_length", "the image must not be empty"))
        for port, protocol in (container.ports or {}).items():
            problems += _port_problems(f"{path}.ports", port)
            if protocol not in PORT_PROTOCOLS:
                problems.append(
                    _problem(
                        f"{path}.ports[{port!r}]",
                        "enum",
                        f"the protocol must be one of {', '.join(PORT_PROTOCOLS)}, "
                        f"got {shorten(protocol)}",
                    )
                )
    return problems


def endpoint_rule(field: str, value: Any) -> list[ValidationProblem]:
    """Check the public endpoint's port and its health check's ranges."""
    name = _namer(field)
    problems: list[ValidationProblem] = []
    low, high = _PORT_RANGE
    if not low <= value.container_port <= high:
        problems.append(
            _problem(
                f"{field}.{name('container_port')}",
                "range",
                f"must be a port number {low}-{high}, got {value.container_port}",
            )
        )
    check = value.health_check
    if check is None:
        return problems
    where = f"{field}.{name('health_check')}"
    for member, (minimum, maximum) in _HEALTH_CHECK_RANGES.items():
        number = getattr(check, member)
        if number is not None and not minimum <= number <= maximum:
            problems.append(
                _problem(
                    f"{where}.{name(member)}",
                    "range",
                    f"must be between {minimum} and {maximum}, got {number}",
                )
            )
    if check.path is not None and not check.path.startswith("/"):
        problems.append(
            _problem(f"{where}.path", "pattern", f"must start with '/', got {shorten(check.path)}")
        )
    if check.success_codes is not None and not _success_codes_ok(check.success_codes):
        problems.append(
            _problem(
                f"{where}.{name('success_codes')}",
                "pattern",
                "must be HTTP codes between 200 and 499, one ('200'), several ('200,202') "
                f"or a range ('200-299'); got {shorten(check.success_codes)}",
            )
        )
    return problems


def _success_codes_ok(text: str) -> bool:
    if _SUCCESS_CODES.fullmatch(text) is None:
        return False
    low, high = _SUCCESS_RANGE
    for part in text.split(","):
        first, _, last = part.partition("-")
        bounds = (int(first), int(last or first))
        if not (low <= bounds[0] <= bounds[1] <= high):
            return False
    return True


def endpoint_matches_containers(
    containers: Mapping[str, Any],
    endpoint: Any,
    *,
    field: str,
) -> list[ValidationProblem]:
    """Check that the endpoint names a container of the deployment, and one of its ports."""
    name = _namer(field)
    container = containers.get(endpoint.container_name)
    if container is None:
        listed = ", ".join(map(repr, containers)) or "none"
        return [
            _problem(
                f"{field}.{name('container_name')}",
                "endpoint",
                f"{endpoint.container_name!r} is not a container of this deployment "
                f"(its containers: {listed})",
            )
        ]
    ports = container.ports or {}
    if str(endpoint.container_port) not in ports:
        listed = ", ".join(ports) or "none"
        return [
            _problem(
                f"{field}.{name('container_port')}",
                "endpoint",
                f"container {endpoint.container_name!r} does not open port "
                f"{endpoint.container_port} (its ports: {listed}); add it to the "
                "container's ports or pick one of those",
            )
        ]
    return []


_SERVICE_IMAGE = re.compile(
    r":(?P<service>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)\.(?P<label>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)"
    r"\.(?:[1-9][0-9]{0,17}|latest)"
)


def service_images_rule(
    service_name: str, containers: Mapping[str, Any], *, field: str
) -> list[ValidationProblem]:
    """Check that each ``:`` image is a registered image name of this service."""
    problems: list[ValidationProblem] = []
    for name, container in containers.items():
        image = container.image
        if not isinstance(image, str) or not image.startswith(":"):
            continue  # a public image, e.g. "nginx:1.27"
        match = _SERVICE_IMAGE.fullmatch(image)
        if match is None:
            problems.append(
                _problem(
                    f"{field}[{name!r}].image",
                    "image",
                    "an image starting with ':' must be a registered image "
                    "':<service>.<label>.<version>' (or '.latest'), for example "
                    f"':{service_name}.web.3'; got {shorten(image)}",
                )
            )
        elif match["service"] != service_name:
            problems.append(
                _problem(
                    f"{field}[{name!r}].image",
                    "image",
                    f"{image!r} is registered to container service {match['service']!r}, "
                    f"not {service_name!r}; a service can only run its own registered "
                    "images (or public ones)",
                )
            )
    return problems


def deployment_cross_rule(values: Mapping[str, Any]) -> list[ValidationProblem]:
    """Check CreateContainerServiceDeployment's parameters together (Python names)."""
    containers = values["containers"]
    problems = service_images_rule(values["service_name"], containers, field="containers")
    endpoint = values.get("public_endpoint")
    if endpoint is not None:
        problems += endpoint_matches_containers(containers, endpoint, field="public_endpoint")
    return problems
