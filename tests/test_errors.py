"""The exception hierarchy, its messages, and boto3 compatibility."""

from __future__ import annotations

import pickle

import pytest
from botocore.exceptions import ClientError

import lightsail_images as li

MODELED = [
    li.AccessDeniedException,
    li.InvalidInputException,
    li.NotFoundException,
    li.ServiceException,
    li.UnauthenticatedException,
    li.RegionSetupInProgressException,
]


def make(cls: type[li.ServiceError] = li.NotFoundException, **overrides: object) -> li.ServiceError:
    kwargs: dict[str, object] = {
        "code": cls.__name__ if cls is not li.ServiceError else "ThrottlingException",
        "message": "No such service.",
        "details": li.ErrorDetails(
            code="DoesNotExist", docs="https://d", message="No such service.", tip="Check the name."
        ),
        "http_status_code": 400,
        "request_id": "req-1",
        "operation_name": "RegisterContainerImage",
        "attempts": 2,
        "headers": {"x-amzn-requestid": "req-1"},
        "modeled_members": {
            "code": "DoesNotExist",
            "message": "No such service.",
            "tip": "Check the name.",
        },
    }
    kwargs.update(overrides)
    return cls(**kwargs)  # type: ignore[arg-type]


def test_the_tree_matches_the_contract() -> None:
    for cls in (
        li.ParamValidationError,
        li.NoRegionError,
        li.NoCredentialsError,
        li.TransportError,
        li.ServiceError,
    ):
        assert issubclass(cls, li.LightsailError)
    assert issubclass(li.ParamValidationError, ValueError)
    assert issubclass(li.ServiceError, ClientError)
    for cls in MODELED:
        assert issubclass(cls, li.ServiceError)
        assert cls.__doc__


def test_service_error_attributes_and_message() -> None:
    err = make()
    assert (err.code, err.message, err.tip, err.docs) == (
        "NotFoundException",
        "No such service.",
        "Check the name.",
        "https://d",
    )
    assert (err.http_status_code, err.request_id, err.attempts) == (400, "req-1", 2)
    text = str(err)
    assert "(NotFoundException)" in text
    assert "RegisterContainerImage" in text
    assert "Tip: Check the name." in text
    assert "request id req-1" in text
    assert "after 2 attempts" in text


def test_client_error_response_shape() -> None:
    err = make()
    assert err.response == {
        "Error": {"Message": "No such service.", "Code": "NotFoundException"},
        "ResponseMetadata": {
            "RequestId": "req-1",
            "HTTPStatusCode": 400,
            "HTTPHeaders": {"x-amzn-requestid": "req-1"},
            "RetryAttempts": 1,
        },
        "code": "DoesNotExist",
        "message": "No such service.",
        "tip": "Check the name.",
    }


def test_message_free_errors_still_read_well() -> None:
    err = make(
        li.ServiceError,
        message="",
        details=li.ErrorDetails(),
        request_id=None,
        attempts=1,
        modeled_members=None,
    )
    assert "no message" in str(err)
    assert "request id" not in str(err)
    assert "RequestId" not in err.response["ResponseMetadata"]


@pytest.mark.parametrize("cls", [*MODELED, li.ServiceError])
def test_service_errors_pickle_round_trip(cls: type[li.ServiceError]) -> None:
    err = make(cls)
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls
    assert again.response == err.response
    assert str(again) == str(err)


def test_other_errors_pickle_round_trip() -> None:
    transport = pickle.loads(pickle.dumps(li.TransportError("down", attempts=3)))
    assert (str(transport), transport.attempts) == ("down", 3)
    malformed = pickle.loads(
        pickle.dumps(
            li.MalformedResponseError("bad", http_status_code=200, request_id="r", attempts=2)
        )
    )
    assert (malformed.http_status_code, malformed.request_id, malformed.attempts) == (200, "r", 2)
    problem = li.ValidationProblem("label", "pattern", "label: bad")
    validation = pickle.loads(pickle.dumps(li.ParamValidationError("Op", (problem,))))
    assert validation.errors == (problem,)
    assert "1 invalid parameter for Op" in str(validation)


def test_boto3_style_handling_keeps_working() -> None:
    with pytest.raises(ClientError) as info:  # how boto3 code catches it
        raise make()
    assert info.value.response["Error"]["Code"] == "NotFoundException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert info.value.response["tip"] == "Check the name."
