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

import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from lightsail_images._errors import ValidationProblem

__all__ = [
    "NAME_PATTERN",
    "CrossRule",
    "Param",
    "Rule",
    "digest_rule",
    "image_belongs_to_service",
    "image_name_rule",
    "length_rule",
    "name_rule",
    "shorten",
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


def shorten(value: object) -> str:
    """Return ``repr(value)``, cut in the middle when long, for error messages."""
    text = repr(value)
    if len(text) <= _SHORTEN_AT:
        return text
    keep = (_SHORTEN_AT - 5) // 2
    return f"{text[:keep]}...{text[-keep:]} ({len(str(value))} chars)"


# A rule takes the parameter's name and its (already type-checked) value and
# returns the problems it finds.
Rule = Callable[[str, str], list[ValidationProblem]]


def length_rule(minimum: int, maximum: int) -> Rule:
    """Return a rule that the length is within ``minimum..maximum``."""

    def check(field: str, value: str) -> list[ValidationProblem]:
        if len(value) < minimum:
            return [
                ValidationProblem(
                    field,
                    "min_length",
                    f"{field}: must be at least {minimum} character{'s' if minimum > 1 else ''}"
                    f" long, got {len(value)}: {shorten(value)}",
                )
            ]
        if len(value) > maximum:
            return [
                ValidationProblem(
                    field,
                    "max_length",
                    f"{field}: must be at most {maximum} characters long, got {len(value)}: "
                    f"{shorten(value)}",
                )
            ]
        return []

    return check


def name_rule(field: str, value: str) -> list[ValidationProblem]:
    """Check Lightsail's name pattern: lowercase letters, digits and inner hyphens."""
    if value and NAME_PATTERN.fullmatch(value) is None:
        return [
            ValidationProblem(
                field,
                "pattern",
                f"{field}: must use only lowercase letters a-z, digits and hyphens, and must "
                f"not start or end with a hyphen; got {shorten(value)}",
            )
        ]
    return []


def digest_rule(field: str, value: str) -> list[ValidationProblem]:
    """Check for an OCI content digest such as ``sha256:<64 lowercase hex>``."""
    form = _DIGEST_FORM.fullmatch(value)
    if form is None:
        return [
            ValidationProblem(
                field,
                "digest",
                f"{field}: must be a content digest 'algorithm:hex', for example "
                f"'sha256:' followed by 64 lowercase hex digits; got {shorten(value)}",
            )
        ]
    encoded = _REGISTERED_DIGESTS.get(form["alg"])
    if encoded is not None and encoded.fullmatch(form["enc"]) is None:
        width = 64 if form["alg"] == "sha256" else 128
        return [
            ValidationProblem(
                field,
                "digest",
                f"{field}: a {form['alg']} digest needs exactly {width} lowercase hex digits "
                f"after '{form['alg']}:', got {len(form['enc'])} characters: {shorten(value)}",
            )
        ]
    return []


def image_name_rule(field: str, value: str) -> list[ValidationProblem]:
    """Check for a registered image name, ``":<service>.<label>.<version>"``."""
    from lightsail_images._models import ImageRef  # noqa: PLC0415 - avoids an import cycle

    try:
        ImageRef.parse(value)
    except ValueError:
        return [
            ValidationProblem(
                field,
                "image",
                f"{field}: must be a registered image name ':<service>.<label>.<version>', "
                f"for example ':my-svc.web.3'; got {shorten(value)}",
            )
        ]
    return []


def image_belongs_to_service(values: Mapping[str, Any]) -> list[ValidationProblem]:
    """Check that ``image`` names an image of ``service_name``, not another service's."""
    from lightsail_images._models import ImageRef  # noqa: PLC0415 - avoids an import cycle

    service_name, image = values.get("service_name"), values.get("image")
    if not isinstance(service_name, str) or not isinstance(image, str):
        return []
    try:
        ref = ImageRef.parse(image)
    except ValueError:
        return []  # reported by image_name_rule
    if ref.service_name == service_name:
        return []
    return [
        ValidationProblem(
            "image",
            "image",
            f"image: {image!r} belongs to container service {ref.service_name!r}, not "
            f"{service_name!r}; pass service_name={ref.service_name!r} or an image of "
            f"{service_name!r}",
        )
    ]


# A check across parameters, run when each parameter is valid on its own.
CrossRule = Callable[[Mapping[str, Any]], list[ValidationProblem]]


@attrs.frozen
class Param:
    """One operation parameter: its names and rules.

    ``rules`` run only when parameter validation is on; the type check always
    runs, because a wrong type cannot be serialized meaningfully.
    """

    name: str
    wire_name: str
    rules: tuple[Rule, ...] = ()
    required: bool = True


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
        if not isinstance(value, str):
            problems.append(
                ValidationProblem(
                    param.name,
                    "type",
                    f"{param.name}: must be a str, got {type(value).__name__}: {shorten(value)}",
                )
            )
            continue
        if check_rules:
            for rule in param.rules:
                problems.extend(rule(param.name, value))
    if check_rules and not problems:
        for cross in cross_rules:
            problems.extend(cross(values))
    return tuple(problems)
