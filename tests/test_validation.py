"""Client-side validation: every rule, every problem at once, before any I/O."""

from __future__ import annotations

import string

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

import lightsail_images as li
from lightsail_images._operations import LABEL, SERVICE_NAME
from lightsail_images._validation import validate

DIGEST = "sha256:" + "0123456789abcdef" * 4
ALNUM = set(string.ascii_lowercase + string.digits)


def name_oracle(value: str, max_length: int) -> bool:
    """The intended rule, written without regular expressions."""
    if not 1 <= len(value) <= max_length:
        return False
    if len(value) <= 2:
        return all(c in ALNUM for c in value)
    return value[0] in ALNUM and value[-1] in ALNUM and all(c in ALNUM or c == "-" for c in value)


def offline_client(**config: object) -> li.Client:
    # No credentials anywhere: validation must fail before they are needed.
    return li.Client("us-east-1", config=li.ClientConfig(**config))  # type: ignore[arg-type]


names = st.text(
    alphabet=string.ascii_lowercase + string.digits + "-_.A!\n ", max_size=70
) | st.text(max_size=70)


@given(names)
def test_service_name_rule_matches_the_oracle(value: str) -> None:
    problems = validate((SERVICE_NAME,), {"service_name": value})
    assert (not problems) == name_oracle(value, 63)


@given(names)
def test_label_rule_matches_the_oracle(value: str) -> None:
    problems = validate((LABEL,), {"label": value})
    assert (not problems) == name_oracle(value, 53)


@given(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,50}[a-z0-9])?", fullmatch=True))
def test_valid_names_pass(value: str) -> None:
    assert validate((SERVICE_NAME, LABEL), {"service_name": value, "label": value}) == ()


@pytest.mark.parametrize(
    "value",
    [
        "ab!!",  # re.search with the literal pattern: '^[a-z0-9]{1,2}' matches 'ab'
        "!!ab",
        "!!abc",  # re.search with the literal pattern: the second alternative matches 'abc'
        "abc\n",  # Python's $ matches before a trailing newline
        "ab\n",
        "a\n",
        "-ab",
        "ab-",
        "-",
        "a b",
        "Ab",
        "a_b",
        "a.b",
        "ａｂｃ",  # noqa: RUF001 - fullwidth letters are not a-z
        "٣٣٣",  # Arabic-Indic digits are not 0-9
    ],
)
def test_pattern_traps_are_rejected(value: str) -> None:
    problems = validate((SERVICE_NAME,), {"service_name": value})
    assert [p.rule for p in problems] == ["pattern"]
    assert repr(value) in problems[0].message or "..." in problems[0].message


def test_the_literal_documented_pattern_really_has_the_traps() -> None:
    import re

    literal = re.compile(r"^[a-z0-9]{1,2}|[a-z0-9][a-z0-9-]+[a-z0-9]$")
    assert literal.search("ab!!")
    assert literal.search("!!abc")
    assert literal.match("abc\n")  # '$' before a trailing newline
    for value in ("ab!!", "!!abc", "abc\n"):
        assert validate((SERVICE_NAME,), {"service_name": value}) != ()


@pytest.mark.parametrize("value", ["a", "ab", "a1", "1", "abc", "a-b", "a--b", "9-9", "a" * 63])
def test_pattern_accepts(value: str) -> None:
    assert validate((SERVICE_NAME,), {"service_name": value}) == ()


def test_lengths_are_reported_with_the_limit() -> None:
    (problem,) = validate((SERVICE_NAME,), {"service_name": "a" * 64})
    assert problem.rule == "max_length"
    assert "63" in problem.message
    assert "64" in problem.message
    (problem,) = validate((LABEL,), {"label": ""})
    assert problem.rule == "min_length"
    (problem,) = validate((LABEL,), {"label": "a" * 54})
    assert problem.rule == "max_length"
    assert "53" in problem.message


def test_long_values_are_shortened_in_messages() -> None:
    (problem,) = validate((SERVICE_NAME,), {"service_name": "x" * 5000})
    assert len(problem.message) < 250
    assert "5000" in problem.message


@pytest.mark.parametrize(
    ("digest", "ok"),
    [
        (DIGEST, True),
        ("sha512:" + "ab" * 64, True),
        ("sha256:" + "AB" * 32, False),  # upper case hex
        ("sha256:" + "ab" * 31, False),  # too short
        ("sha256:" + "ab" * 33, False),  # too long
        ("sha256:" + "g" * 64, False),
        ("sha512:" + "ab" * 32, False),
        ("sha256" + "ab" * 32, False),  # no colon
        (":" + "ab" * 32, False),
        ("sha256:", False),
        ("", False),
        ("SHA256:" + "ab" * 32, False),  # algorithm is lower case
        ("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", True),  # OCI grammar
        ("sha256:" + "ab" * 32 + "\n", False),
        ("sha256:" + "ab" * 32 + " ", False),
    ],
)
def test_digest_rule(digest: str, ok: bool) -> None:
    from lightsail_images._operations import DIGEST as DIGEST_PARAM

    problems = validate((DIGEST_PARAM,), {"digest": digest})
    assert (not problems) is ok
    if not ok:
        assert problems[0].field == "digest"
        assert problems[0].rule == "digest"


@given(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
def test_any_sha256_hex_digest_passes(hexdigits: str) -> None:
    from lightsail_images._operations import DIGEST as DIGEST_PARAM

    assert validate((DIGEST_PARAM,), {"digest": "sha256:" + hexdigits}) == ()


@responses.activate(assert_all_requests_are_fired=False)
def test_every_problem_is_reported_at_once_and_nothing_is_sent() -> None:
    client = offline_client()
    with pytest.raises(li.ParamValidationError) as info:
        client.register_container_image(service_name="Bad_Name", label="", digest="md5")
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, li.LightsailError)
    assert [(p.field, p.rule) for p in err.errors] == [
        ("service_name", "pattern"),
        ("label", "min_length"),
        ("digest", "digest"),
    ]
    text = str(err)
    assert "3 invalid parameters for RegisterContainerImage" in text
    for field in ("service_name", "label", "digest"):
        assert field in text
    assert len(responses.calls) == 0


def test_validation_happens_before_credentials_are_looked_up() -> None:
    # The isolated environment has no credentials: a lookup would raise
    # NoCredentialsError, so seeing ParamValidationError proves the order.
    with pytest.raises(li.ParamValidationError):
        offline_client().register_container_image(service_name="ok", label="ok", digest="nope")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"service_name": None, "label": "web", "digest": DIGEST},
        {"service_name": "svc", "label": 5, "digest": DIGEST},
        {"service_name": "svc", "label": "web", "digest": b"sha256:00"},
    ],
)
def test_wrong_types_are_rejected_even_with_validation_off(kwargs: dict[str, object]) -> None:
    client = offline_client(parameter_validation=False)
    with pytest.raises(li.ParamValidationError) as info:
        client.register_container_image(**kwargs)  # type: ignore[arg-type]
    assert [p.rule for p in info.value.errors] == ["type"]
    assert "must be a str" in str(info.value)


@responses.activate
def test_validation_off_sends_values_the_rules_would_reject() -> None:
    responses.post(
        "https://lightsail.us-east-1.amazonaws.com/",
        json={"containerImage": {"image": ":S.W.1", "digest": "x", "createdAt": 1}},
    )
    client = li.Client(
        "us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=li.ClientConfig(parameter_validation=False),
    )
    result = client.register_container_image(service_name="S", label="W", digest="x")
    assert result.container_image.image == ":S.W.1"
    assert responses.calls[0].request.body == b'{"serviceName": "S", "label": "W", "digest": "x"}'


def test_problems_are_frozen_and_printable() -> None:
    (problem,) = validate((LABEL,), {"label": "UP"})
    assert str(problem) == problem.message
    with pytest.raises(AttributeError):
        problem.field = "x"  # type: ignore[misc]


@given(st.text(max_size=80), st.text(max_size=80))
def test_validation_never_raises_for_any_string(service_name: str, label: str) -> None:
    validate((SERVICE_NAME, LABEL), {"service_name": service_name, "label": label})
