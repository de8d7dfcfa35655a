"""The sans-I/O protocol core, fed bytes directly: no sockets, no mocks."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lightsail_images as li
from lightsail_images import _protocol as protocol
from lightsail_images._operations import REGISTER_CONTAINER_IMAGE
from lightsail_images._protocol import HttpResponse, build_request, error_code, parse_response

DIGEST = "sha256:" + "ab" * 32
ENDPOINT = "https://lightsail.us-east-1.amazonaws.com"


def response(status: int, body: bytes | str | dict[str, object], **headers: str) -> HttpResponse:
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    return HttpResponse(status, {k.lower(): v for k, v in headers.items()}, body)


def parse(resp: HttpResponse, attempts: int = 1) -> object:
    return parse_response(REGISTER_CONTAINER_IMAGE, resp, attempts=attempts)


# --- requests ---------------------------------------------------------------


def test_request_is_awsjson11_post_with_members_in_model_order() -> None:
    request = build_request(
        REGISTER_CONTAINER_IMAGE,
        {"digest": DIGEST, "label": "web", "service_name": "my-svc"},
        endpoint_url=ENDPOINT,
    )
    assert request.method == "POST"
    assert request.url == ENDPOINT + "/"
    assert dict(request.headers) == {
        "X-Amz-Target": "Lightsail_20161128.RegisterContainerImage",
        "Content-Type": "application/x-amz-json-1.1",
    }
    assert request.body == (
        b'{"serviceName": "my-svc", "label": "web", "digest": "' + DIGEST.encode() + b'"}'
    )


def test_request_url_keeps_an_endpoint_path_prefix() -> None:
    request = build_request(
        REGISTER_CONTAINER_IMAGE,
        {"service_name": "s", "label": "l", "digest": DIGEST},
        endpoint_url="http://127.0.0.1:9000/proxy/",
    )
    assert request.url == "http://127.0.0.1:9000/proxy/"


# --- success ----------------------------------------------------------------


def test_success_becomes_frozen_models_with_utc_datetime() -> None:
    result = parse(
        response(
            200,
            {
                "containerImage": {
                    "image": ":my-svc.web.3",
                    "digest": DIGEST,
                    "createdAt": 1.7e9 + 0.25,
                }
            },
            **{"x-amzn-RequestId": "req-1"},
        ),
        attempts=2,
    )
    assert isinstance(result, li.RegisterContainerImageResult)
    image = result.container_image
    assert image == li.ContainerImage(
        image=":my-svc.web.3",
        digest=DIGEST,
        created_at=dt.datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=dt.timezone.utc),
    )
    assert image.created_at.utcoffset() == dt.timedelta(0)
    assert result.response_metadata == li.ResponseMetadata("req-1", 200, 2)
    with pytest.raises(AttributeError):
        image.image = "other"  # type: ignore[misc]


def test_unknown_fields_are_ignored() -> None:
    result = parse(
        response(
            200,
            {
                "containerImage": {
                    "image": ":s.l.1",
                    "digest": DIGEST,
                    "createdAt": 0,
                    "newField": [1],
                },
                "somethingNew": {"x": 1},
            },
        )
    )
    assert isinstance(result, li.RegisterContainerImageResult)
    assert result.container_image.created_at == dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def test_iso8601_timestamps_are_accepted_too() -> None:
    result = parse(
        response(
            200,
            {
                "containerImage": {
                    "image": ":s.l.1",
                    "digest": DIGEST,
                    "createdAt": "2024-01-02T03:04:05Z",
                }
            },
        )
    )
    assert isinstance(result, li.RegisterContainerImageResult)
    assert result.container_image.created_at == dt.datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc
    )


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"", "containerImage"),
        (b"{}", "containerImage"),
        (b"not json", "not a JSON object"),
        (b"[1, 2]", "not a JSON object"),
        (b"\xff\xfe\x00", "not a JSON object"),
        (b'{"containerImage": null}', "containerImage"),
        (b'{"containerImage": {"image": 3, "digest": "d", "createdAt": 1}}', "image"),
        (b'{"containerImage": {"image": "i", "createdAt": 1}}', "digest"),
        (b'{"containerImage": {"image": "i", "digest": "d", "createdAt": "yesterday"}}', "created"),
        (b'{"containerImage": {"image": "i", "digest": "d", "createdAt": true}}', "created"),
        (b'{"containerImage": {"image": "i", "digest": "d", "createdAt": 1e300}}', "created"),
        (b'{"containerImage": "x"}', "containerImage"),
        (b"[" * 100000, "not a JSON object"),
    ],
)
def test_malformed_success_bodies_raise_a_library_error(body: bytes, needle: str) -> None:
    with pytest.raises(li.MalformedResponseError) as info:
        parse(HttpResponse(200, {"x-amzn-requestid": "rid-9"}, body))
    message = str(info.value)
    assert needle.lower() in message.lower().replace("_", "")
    assert "rid-9" in message
    assert info.value.request_id == "rid-9"
    assert info.value.http_status_code == 200


def test_only_a_refused_body_builds_the_explaining_converter() -> None:
    # A good body is structured by the plain converter alone; a bad one is
    # structured again with detailed validation, whose error names the path.
    protocol._explaining_converter.cache_clear()
    good = {
        "containerImage": {"image": ":svc.web.1", "digest": "sha256:" + "a" * 64, "createdAt": 1}
    }
    parse(HttpResponse(200, {}, json.dumps(good).encode()))
    assert protocol._explaining_converter.cache_info().currsize == 0
    bad = {"containerImage": {"image": ":svc.web.1", "digest": 7, "createdAt": 1}}
    with pytest.raises(li.MalformedResponseError) as info:
        parse(HttpResponse(200, {}, json.dumps(bad).encode()))
    assert protocol._explaining_converter.cache_info().currsize == 1
    assert "expected str @ container_image.digest" in str(info.value)


@given(
    st.dictionaries(
        st.sampled_from(["image", "digest", "createdAt", "x"]),
        st.one_of(
            st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)
        ),
    )
)
def test_the_plain_and_the_detailed_converter_agree(image: dict[str, object]) -> None:
    # The plain converter's answer (a model, or a refusal) is the detailed one's.
    kind = li.ContainerImage
    try:
        plain: object = protocol.converter.structure(image, kind)
    except Exception:
        plain = None
    try:
        detailed: object = protocol._explaining_converter().structure(image, kind)
    except Exception:
        detailed = None
    assert plain == detailed


@given(st.binary(max_size=300))
def test_no_body_ever_escapes_as_anything_but_a_library_error(body: bytes) -> None:
    for status in (200, 400, 500):
        try:
            outcome = parse(HttpResponse(status, {}, body))
        except li.LightsailError:
            continue
        assert isinstance(outcome, (li.RegisterContainerImageResult, li.ServiceError))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.dictionaries(
        st.sampled_from(
            ["containerImage", "__type", "code", "message", "Message", "tip", "docs", "x"]
        ),
        json_values,
        max_size=6,
    ),
    st.sampled_from([200, 400, 403, 429, 500, 503]),
)
def test_arbitrary_json_shapes_only_raise_library_errors(
    body: dict[str, object], status: int
) -> None:
    try:
        outcome = parse(response(status, body))
    except li.LightsailError:
        return
    assert isinstance(outcome, (li.RegisterContainerImageResult, li.ServiceError))


# --- error type resolution: the Smithy awsJson1_1 protocol tests ------------
# smithy-aws-protocol-tests, model/awsJson1_1/errors.smithy: all 13 cases.

JSON = {"Content-Type": "application/x-amz-json-1.1"}
SMITHY_CASES = [
    (
        "AwsJson11InvalidGreetingError",
        400,
        JSON,
        '{"__type": "InvalidGreeting", "Message": "Hi"}',
        "InvalidGreeting",
    ),
    (
        "AwsJson11ComplexError",
        400,
        JSON,
        '{"__type": "ComplexError", "TopLevel": "Top level", "Nested": {"Foo": "bar"}}',
        "ComplexError",
    ),
    ("AwsJson11EmptyComplexError", 400, JSON, '{"__type": "ComplexError"}', "ComplexError"),
    ("AwsJson11FooErrorUsingXAmznErrorType", 500, {"X-Amzn-Errortype": "FooError"}, "", "FooError"),
    (
        "AwsJson11FooErrorUsingXAmznErrorTypeWithUri",
        500,
        {
            "X-Amzn-Errortype": "FooError:http://internal.amazon.com/coral/com.amazon.coral.validate/"
        },
        "",
        "FooError",
    ),
    (
        "AwsJson11FooErrorUsingXAmznErrorTypeWithUriAndNamespace",
        500,
        {
            "X-Amzn-Errortype": "aws.protocoltests.json#FooError:"
            "http://internal.amazon.com/coral/com.amazon.coral.validate/"
        },
        "",
        "FooError",
    ),
    ("AwsJson11FooErrorUsingCode", 500, JSON, '{"code": "FooError"}', "FooError"),
    (
        "AwsJson11FooErrorUsingCodeAndNamespace",
        500,
        JSON,
        '{"code": "aws.protocoltests.json#FooError"}',
        "FooError",
    ),
    (
        "AwsJson11FooErrorUsingCodeUriAndNamespace",
        500,
        JSON,
        '{"code": "aws.protocoltests.json#FooError:http://internal.amazon.com/coral/com.amazon.coral.validate/"}',
        "FooError",
    ),
    ("AwsJson11FooErrorWithDunderType", 500, JSON, '{"__type": "FooError"}', "FooError"),
    (
        "AwsJson11FooErrorWithDunderTypeAndNamespace",
        500,
        JSON,
        '{"__type": "aws.protocoltests.json#FooError"}',
        "FooError",
    ),
    (
        "AwsJson11FooErrorWithDunderTypeUriAndNamespace",
        500,
        JSON,
        '{"__type": "aws.protocoltests.json#FooError:http://internal.amazon.com/coral/com.amazon.coral.validate/"}',
        "FooError",
    ),
    (
        "AwsJson11FooErrorWithNestedTypeProperty",
        500,
        JSON,
        (
            '{"__type": "aws.protocoltests.json#FooError", "ErrorDetails": '
            '[{"__type": "com.amazon.internal#ErrorDetails", "reason": "Some reason"}]}'
        ),
        "FooError",
    ),
]


def test_all_thirteen_smithy_cases_are_here() -> None:
    assert len(SMITHY_CASES) == 13
    assert len({case[0] for case in SMITHY_CASES}) == 13


@pytest.mark.parametrize(
    ("case_id", "status", "headers", "body", "expected"),
    SMITHY_CASES,
    ids=[c[0] for c in SMITHY_CASES],
)
def test_smithy_error_identification(
    case_id: str, status: int, headers: dict[str, str], body: str, expected: str
) -> None:
    outcome = parse(response(status, body, **headers))
    assert isinstance(outcome, li.ServiceError)
    assert outcome.code == expected
    assert outcome.response["Error"]["Code"] == expected
    assert outcome.http_status_code == status
    assert type(outcome) is li.ServiceError  # unmodelled: the base class


def test_smithy_message_member_spelled_with_capital_m() -> None:
    outcome = parse(response(400, '{"__type": "InvalidGreeting", "Message": "Hi"}'))
    assert isinstance(outcome, li.ServiceError)
    assert outcome.message == "Hi"


LIGHTSAIL_NOT_FOUND = {
    "__type": "NotFoundException",
    "code": "DoesNotExist",
    "docs": "https://docs.example/lightsail",
    "message": "The container service does not exist.",
    "tip": "Check the name and the region.",
}


def test_lightsail_code_member_never_wins_over_type() -> None:
    outcome = parse(response(400, LIGHTSAIL_NOT_FOUND, **{"x-amzn-RequestId": "r-1"}))
    assert isinstance(outcome, li.NotFoundException)
    assert outcome.code == "NotFoundException"
    assert outcome.details == li.ErrorDetails(
        code="DoesNotExist",
        docs="https://docs.example/lightsail",
        message="The container service does not exist.",
        tip="Check the name and the region.",
    )
    assert outcome.tip == "Check the name and the region."
    assert outcome.docs == "https://docs.example/lightsail"
    assert outcome.request_id == "r-1"


def test_error_type_header_wins_over_body() -> None:
    outcome = parse(
        response(
            400,
            LIGHTSAIL_NOT_FOUND,
            **{
                "x-amzn-ErrorType": "InvalidInputException:http://internal.amazon.com/coral/com.amazonaws.lightsail/"
            },
        )
    )
    assert isinstance(outcome, li.InvalidInputException)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("AccessDeniedException", li.AccessDeniedException),
        ("InvalidInputException", li.InvalidInputException),
        ("NotFoundException", li.NotFoundException),
        ("ServiceException", li.ServiceException),
        ("UnauthenticatedException", li.UnauthenticatedException),
        ("RegionSetupInProgressException", li.RegionSetupInProgressException),
        ("ThrottlingException", li.ServiceError),
        ("UnrecognizedClientException", li.ServiceError),
    ],
)
def test_every_error_class_is_chosen_by_its_code(code: str, cls: type[li.ServiceError]) -> None:
    outcome = parse(response(400, {"__type": f"com.amazonaws.lightsail#{code}", "message": "m"}))
    assert type(outcome) is cls
    assert isinstance(outcome, li.ServiceError)
    assert outcome.code == code


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
        (503, b"", "text/plain"),
        (500, b'{"__type": "ServiceExc', "application/x-amz-json-1.1"),
        (504, b"\xff\xfe garbage", "application/octet-stream"),
        (400, b"null", "application/json"),
        (400, b'"just a string"', "application/json"),
    ],
)
def test_non_json_or_truncated_error_bodies_name_the_status(
    status: int, body: bytes, content_type: str
) -> None:
    outcome = parse(HttpResponse(status, {"content-type": content_type}, body))
    assert isinstance(outcome, li.ServiceError)
    assert outcome.code == str(status)
    assert outcome.http_status_code == status


def test_html_error_says_what_happened() -> None:
    outcome = parse(
        HttpResponse(502, {"content-type": "text/html; charset=utf-8"}, b"<html>bad gateway</html>")
    )
    assert isinstance(outcome, li.ServiceError)
    assert "502" in outcome.message
    assert "text/html" in outcome.message


def test_error_code_resolution_ignores_non_string_members() -> None:
    assert error_code(418, {}, {"__type": 5, "code": ["x"]}) == "418"
    assert error_code(418, {"x-amzn-errortype": ""}, {"__type": "  "}) == "418"
    assert error_code(418, {}, None) == "418"
