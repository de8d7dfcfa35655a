"""The exception hierarchy, its messages, and boto3 compatibility."""

from __future__ import annotations

import pickle

import pytest
from botocore.exceptions import ClientError

import lightsail_images as li
import lightsail_images.testing

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


# One instance of every public exception class, built with every attribute set.
def _every_exception() -> list[li.LightsailError]:
    problem = li.ValidationProblem("label", "pattern", "label: bad")
    detail = li.RegistryErrorDetail("DENIED", "no", '{"a":1}')
    return [
        li.LightsailError("plain"),
        li.ParamValidationError("Op", (problem,)),
        li.ConfigurationError("bad endpoint"),
        li.NoRegionError("no region"),
        li.NoCredentialsError("no keys"),
        li.ImageSourceError("app.tar: corrupt"),
        li.PlatformError("arm only", wanted="linux/amd64", available=("linux/arm64",)),
        li.TransportError("down", attempts=3),
        li.MalformedResponseError("bad", http_status_code=200, request_id="r", attempts=2),
        li.RegistryError("refused", http_status_code=400, errors=(detail,), attempts=2),
        li.RegistryAuthError("denied", http_status_code=403, errors=(detail,)),
        li.DigestMismatchError("rewrote", expected="sha256:" + "a" * 64, actual="sha256:x"),
        li.DeploymentFailedError(
            service_name="svc",
            version=3,
            logs={"web": (li.ContainerLogEvent(created_at=None, message="boom"),)},
            log_error=None,
        ),
        li.DeploymentTimeoutError(service_name="svc", version=3, timeout=60.0, state="ACTIVATING"),
        *(make(cls) for cls in (*MODELED, li.ServiceError)),
    ]


def _public_exception_classes() -> set[type[BaseException]]:
    return {
        value
        for name in li.__all__
        if isinstance(value := getattr(li, name), type) and issubclass(value, BaseException)
    }


def test_every_public_exception_class_round_trips_through_pickle() -> None:
    errors = _every_exception()
    assert {type(e) for e in errors} == _public_exception_classes()  # none left out
    for err in errors:
        again = pickle.loads(pickle.dumps(err))
        assert type(again) is type(err)
        assert str(again) == str(err)
        assert again.args == err.args
        public = {k: v for k, v in vars(err).items() if not k.startswith("_")}
        assert {k: v for k, v in vars(again).items() if not k.startswith("_")} == public
        for name in ("codes", "tip", "docs", "response"):
            assert getattr(again, name, None) == getattr(err, name, None)


def test_every_exception_class_lives_in_errors_module() -> None:
    from lightsail_images import _errors

    for cls in _public_exception_classes():
        assert getattr(_errors, cls.__name__) is cls
        assert cls.__name__ in _errors.__all__


def test_public_classes_say_lightsail_images() -> None:
    import inspect

    for module in (li, li.testing):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value):
                # A class both export (testing re-exports Deployment) says the package's.
                home = "lightsail_images" if name in li.__all__ else module.__name__
                assert value.__module__ == home, name
                assert f"{value.__module__}.{value.__qualname__}" == f"{home}.{name}"
                assert pickle.loads(pickle.dumps(value)) is value
    err = make()
    assert type(err).__module__ == "lightsail_images"
    assert "lightsail_images.NotFoundException" in repr(type(err))


def test_boto3_style_handling_keeps_working() -> None:
    with pytest.raises(ClientError) as info:  # how boto3 code catches it
        raise make()
    assert info.value.response["Error"]["Code"] == "NotFoundException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert info.value.response["tip"] == "Check the name."


def test_configuration_errors_keep_their_facts_apart_from_the_advice(tmp_path, monkeypatch):
    import pickle

    with pytest.raises(li.ConfigurationError) as info:
        li.Client("us-east-1", profile_name="nope")
    err = info.value
    assert (err.setting, err.value) == ("profile_name", "nope")
    assert err.reason == (
        "the AWS profile 'nope' was not found in ~/.aws/config or ~/.aws/credentials"
    )
    assert str(err).startswith(err.reason + "; ")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.reason, copy.setting, copy.value, str(copy)) == (
        err.reason,
        err.setting,
        err.value,
        str(err),
    )
    with pytest.raises(li.NoRegionError) as region:
        li.Client()
    assert (region.value.setting, region.value.reason) == (
        "region_name",
        "no AWS region is configured",
    )


def test_validation_problems_say_what_is_wrong_without_the_field_name():
    upper = "sha256:" + "AB" * 32
    with pytest.raises(li.ParamValidationError) as info:
        li.Client(
            "us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
        ).register_container_image(service_name="svc", label="web", digest=upper)
    (problem,) = info.value.errors
    assert problem.field == "digest"
    assert problem.message == f"digest: {problem.detail}"
    assert "lowercase" in problem.detail
    assert "must be lowercase (a-f, not A-F)" in problem.detail
    assert "got 64 characters" not in problem.detail
    assert li.ValidationProblem("x", "type", "x: bad").detail == "bad"
