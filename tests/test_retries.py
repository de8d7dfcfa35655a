"""Standard-mode retries, through the public client (sleeps switched off)."""

from __future__ import annotations

import pytest
import requests
import responses

import lightsail_images as li
from lightsail_images import _retry
from lightsail_images._retry import RetryPolicy, RetryQuota
from lightsail_images.testing import is_testing, set_testing
from tests.scripted_server import Reply, scripted_server

URL = "https://lightsail.us-east-1.amazonaws.com/"
DIGEST = "sha256:" + "c0" * 32
OK = {"containerImage": {"image": ":svc.web.1", "digest": DIGEST, "createdAt": 1}}
KEYS = {"aws_access_key_id": "AKIDRETRY", "aws_secret_access_key": "retry-secret"}


def client(max_attempts: int | None = None, **kwargs: object) -> li.Client:
    return li.Client(
        "us-east-1", config=li.ClientConfig(max_attempts=max_attempts), **KEYS, **kwargs
    )  # type: ignore[arg-type]


def register(c: li.Client) -> li.RegisterContainerImageResult:
    return c.register_container_image(service_name="svc", label="web", digest=DIGEST)


def error(status: int, error_type: str | None = None, **headers: str) -> dict[str, object]:
    body = {"__type": error_type, "message": f"{error_type} happened"} if error_type else {}
    return {"status": status, "json": body, "headers": headers}


RETRYABLE = [
    error(500, "ServiceException"),
    error(502),
    error(503, "ServiceUnavailable"),
    error(504),
    error(400, "ThrottlingException"),
    error(400, "Throttling"),
    error(400, "TooManyRequestsException"),
    error(400, "RequestLimitExceeded"),
    error(429),
    error(408, "RequestTimeout"),
    error(400, "RequestTimeoutException"),
    error(400, "PriorRequestNotComplete"),
]


@pytest.mark.parametrize(
    "failure", RETRYABLE, ids=lambda f: f"{f['status']}-{f['json'].get('__type')}"
)  # type: ignore[union-attr]
@responses.activate
def test_retryable_errors_are_retried_and_attempts_reported(failure: dict[str, object]) -> None:
    responses.post(URL, **failure)  # type: ignore[arg-type]
    responses.post(URL, json=OK)
    result = register(client())
    assert result.response_metadata.attempts == 2
    assert len(responses.calls) == 2
    second = responses.calls[1].request.headers
    assert second["amz-sdk-request"] == "attempt=2; max=3"
    assert (
        responses.calls[0].request.headers["amz-sdk-invocation-id"]
        == second["amz-sdk-invocation-id"]
    )
    # Each attempt is signed afresh.
    assert "Signature=" in second["Authorization"]


@pytest.mark.parametrize(
    ("status", "error_type", "cls"),
    [
        (400, "InvalidInputException", li.InvalidInputException),
        (400, "NotFoundException", li.NotFoundException),
        (400, "AccessDeniedException", li.AccessDeniedException),
        (403, "UnrecognizedClientException", li.ServiceError),
        (400, "UnauthenticatedException", li.UnauthenticatedException),
        (404, None, li.ServiceError),
        (400, "RegionSetupInProgressException", li.RegionSetupInProgressException),
    ],
)
@responses.activate
def test_other_4xx_errors_are_never_retried(
    status: int, error_type: str | None, cls: type[li.ServiceError]
) -> None:
    responses.post(URL, **error(status, error_type))  # type: ignore[arg-type]
    with pytest.raises(cls) as info:
        register(client())
    assert len(responses.calls) == 1
    assert info.value.attempts == 1
    assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 0


@responses.activate
def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    responses.post(URL, **error(500, "ServiceException", **{"x-amzn-RequestId": "last"}))  # type: ignore[arg-type]
    with pytest.raises(li.ServiceException) as info:
        register(client(max_attempts=4))
    assert len(responses.calls) == 4
    assert info.value.attempts == 4
    assert info.value.request_id == "last"
    assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 3
    assert "after 4 attempts" in str(info.value)


@responses.activate
def test_max_attempts_one_turns_retries_off() -> None:
    responses.post(URL, **error(503))  # type: ignore[arg-type]
    with pytest.raises(li.ServiceError):
        register(client(max_attempts=1))
    assert len(responses.calls) == 1


@responses.activate
def test_connection_errors_are_retried_then_raise_transport_error() -> None:
    responses.post(URL, body=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(li.TransportError) as info:
        register(client())
    assert len(responses.calls) == 3
    assert info.value.attempts == 3
    assert isinstance(info.value.__cause__, requests.exceptions.ConnectionError)
    assert "after 3 attempts" in str(info.value)
    assert URL in str(info.value)


@responses.activate
def test_a_transport_failure_then_success() -> None:
    responses.post(URL, body=requests.exceptions.ReadTimeout("slow"))
    responses.post(URL, json=OK)
    assert register(client()).response_metadata.attempts == 2


def test_dropped_connections_over_real_http() -> None:
    with scripted_server(Reply(drop=True), Reply(drop=True), Reply.json(200, OK)) as server:
        result = register(client(endpoint_url=server.url))
    assert result.response_metadata.attempts == 3
    assert len(server.requests) == 3


def test_connection_refused_over_real_http() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port now.
    with pytest.raises(li.TransportError) as info:
        register(client(endpoint_url=f"http://127.0.0.1:{port}"))
    assert "could not connect" in str(info.value)
    assert info.value.attempts == 3


def test_read_timeout_over_real_http() -> None:
    import socket

    # A listener that accepts connections but never answers.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        c = li.Client(
            "us-east-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            config=li.ClientConfig(read_timeout=0.2, connect_timeout=1, max_attempts=2),
            **KEYS,
        )
        with pytest.raises(li.TransportError) as info:
            register(c)
        c.close()
    assert "timed out waiting for a response" in str(info.value)
    assert info.value.attempts == 2


# --- the policy itself --------------------------------------------------------


def test_backoff_is_full_jitter_exponential_capped_at_20_seconds() -> None:
    policy = RetryPolicy(max_attempts=10, quota=RetryQuota(), rand=lambda: 1.0)
    delays = [policy.delay(n, retryable=True, timeout=False) for n in range(1, 10)]
    assert delays == [1, 2, 4, 8, 16, 20, 20, 20, 20]
    policy = RetryPolicy(max_attempts=10, quota=RetryQuota(), rand=lambda: 0.25)
    assert policy.delay(3, retryable=True, timeout=False) == 1.0


def test_no_delay_when_not_retryable_or_out_of_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, quota=RetryQuota())
    assert policy.delay(1, retryable=False, timeout=False) is None
    assert policy.delay(3, retryable=True, timeout=False) is None


def test_quota_costs_and_refunds_like_botocore_standard_mode() -> None:
    quota = RetryQuota(20)
    policy = RetryPolicy(max_attempts=5, quota=quota, rand=lambda: 0.0)
    assert policy.delay(1, retryable=True, timeout=True) == 0.0
    assert quota.available == 10
    assert policy.delay(2, retryable=True, timeout=False) == 0.0
    assert quota.available == 5
    policy.succeeded(3)  # refunds the last retry's cost
    assert quota.available == 10
    RetryPolicy(max_attempts=5, quota=quota).succeeded(1)  # first-time success: +1
    assert quota.available == 11
    for _ in range(20):
        quota.release(5)
    assert quota.available == 20  # never above capacity
    drained = RetryQuota(4)
    assert (
        RetryPolicy(max_attempts=5, quota=drained).delay(1, retryable=True, timeout=False) is None
    )


@responses.activate
def test_a_sustained_outage_drains_the_quota_and_stops_retry_storms() -> None:
    responses.post(URL, **error(503))  # type: ignore[arg-type]
    c = client(max_attempts=3)
    calls = 200
    for _ in range(calls):
        with pytest.raises(li.ServiceError):
            register(c)
    # 500 units / 5 per retry = 100 retries in all, then one attempt per call.
    assert len(responses.calls) == calls + 100
    assert len(responses.calls) < calls * 3
    assert c._quota.available < 5


@responses.activate
def test_successes_refill_the_quota() -> None:
    c = client()
    c._quota = RetryQuota(500)
    c._quota.acquire(500)
    responses.post(URL, json=OK)
    for _ in range(10):
        register(c)
    assert c._quota.available == 10


def test_testing_switch_turns_sleeps_off_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(_retry, "_clock_sleep", slept.append)
    assert is_testing()
    _retry.sleep(1.5)
    assert slept == []
    with set_testing(False):
        assert not is_testing()
        _retry.sleep(1.5)
        _retry.sleep(0)
    assert is_testing()
    assert slept == [1.5]


@responses.activate
def test_backoff_sleeps_happen_when_not_testing(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(_retry, "_clock_sleep", slept.append)
    monkeypatch.setattr(_retry.random, "random", lambda: 0.5)
    responses.post(URL, **error(503))  # type: ignore[arg-type]
    with set_testing(False), pytest.raises(li.ServiceError):
        register(client(max_attempts=4))
    assert slept == [0.5, 1.0, 2.0]
