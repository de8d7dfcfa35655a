"""Configuration like boto3: arguments, environment, profiles, credentials."""

from __future__ import annotations

import datetime as dt
import pathlib

import botocore.credentials
import botocore.session
import pytest
import requests
import responses

import lightsail_images as li
from lightsail_images._config import ConfigurationError

DIGEST = "sha256:" + "d1" * 32
OK = {"containerImage": {"image": ":svc.web.1", "digest": DIGEST, "createdAt": 1}}


def write(path: str, text: str) -> None:
    pathlib.Path(path).write_text(text)


@pytest.fixture
def aws_files(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    import os

    return os.environ["AWS_CONFIG_FILE"], os.environ["AWS_SHARED_CREDENTIALS_FILE"]


def authorization(call: object) -> str:
    return call.request.headers["Authorization"]  # type: ignore[attr-defined,no-any-return]


# --- region -------------------------------------------------------------------


def test_no_region_says_how_to_fix_it() -> None:
    with pytest.raises(li.NoRegionError) as info:
        li.Client()
    message = str(info.value)
    assert "region_name" in message
    assert "AWS_REGION" in message
    assert "AWS_DEFAULT_REGION" in message
    assert isinstance(info.value, li.LightsailError)


@pytest.mark.parametrize(
    ("env", "profile_region", "expected"),
    [
        ({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2"}, "ap-south-1", "eu-west-1"),
        ({"AWS_DEFAULT_REGION": "us-west-2"}, "ap-south-1", "us-west-2"),
        ({}, "ap-south-1", "ap-south-1"),
    ],
)
def test_region_precedence(
    monkeypatch: pytest.MonkeyPatch,
    aws_files: tuple[str, str],
    env: dict[str, str],
    profile_region: str,
    expected: str,
) -> None:
    write(aws_files[0], f"[default]\nregion = {profile_region}\n")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert li.Client().region_name == expected
    assert li.Client("ca-central-1").region_name == "ca-central-1"


def test_region_from_a_named_profile(aws_files: tuple[str, str]) -> None:
    write(aws_files[0], "[default]\nregion = us-east-1\n[profile ops]\nregion = eu-north-1\n")
    assert li.Client(profile_name="ops").region_name == "eu-north-1"


@pytest.mark.parametrize("region", ["us east 1", "-bad", "a" * 70, "123"])
def test_invalid_region_names_are_refused(region: str) -> None:
    with pytest.raises(ConfigurationError, match="not a valid AWS region"):
        li.Client(region)


def test_missing_profile_is_a_configuration_error(aws_files: tuple[str, str]) -> None:
    with pytest.raises(ConfigurationError) as info:
        li.Client(profile_name="nope")
    assert "'nope'" in str(info.value)
    assert "profile" in str(info.value)


@pytest.mark.parametrize("region", [None, "us-east-1"])
@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:9"])
@pytest.mark.parametrize("max_attempts", [None, 2])
@pytest.mark.parametrize("how", ["argument", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"])
def test_a_missing_profile_fails_when_the_client_is_created_whatever_else_is_set(  # noqa: PLR0917
    monkeypatch: pytest.MonkeyPatch,
    aws_files: tuple[str, str],
    region: str | None,
    endpoint: str | None,
    max_attempts: int | None,
    how: str,
) -> None:
    # Every other setting given explicitly means no file needs reading for
    # them; the profile is still checked at construction, never at the first call.
    write(aws_files[0], "[default]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    profile = None
    if how == "argument":
        profile = "nope"
    else:
        monkeypatch.setenv(how, "nope")
    with pytest.raises(ConfigurationError, match="'nope' was not found"):
        li.Client(
            region,
            endpoint_url=endpoint,
            profile_name=profile,
            config=li.ClientConfig(max_attempts=max_attempts),
        )


def test_a_missing_profile_in_a_given_botocore_session_fails_at_construction(
    aws_files: tuple[str, str],
) -> None:
    session = botocore.session.Session(profile="nope")
    with pytest.raises(ConfigurationError, match="'nope' was not found"):
        li.Client(
            "us-east-1",
            endpoint_url="http://127.0.0.1:9",
            botocore_session=session,
            config=li.ClientConfig(max_attempts=2),
        )


def test_an_existing_named_profile_reads_no_more_than_needed(aws_files: tuple[str, str]) -> None:
    write(aws_files[0], "[profile ops]\nregion = eu-north-1\n")
    client = li.Client(
        "us-east-1",
        endpoint_url="http://127.0.0.1:9",
        profile_name="ops",
        config=li.ClientConfig(max_attempts=2),
    )
    assert client.region_name == "us-east-1"


# --- endpoint -------------------------------------------------------------------


def test_default_endpoint_is_regional() -> None:
    assert li.Client("sa-east-1").endpoint_url == "https://lightsail.sa-east-1.amazonaws.com"


def test_endpoint_precedence(monkeypatch: pytest.MonkeyPatch, aws_files: tuple[str, str]) -> None:
    write(
        aws_files[0],
        "[default]\nendpoint_url = http://profile-global:1\nservices = local\n"
        "[services local]\nlightsail =\n  endpoint_url = http://profile-service:2\n",
    )
    assert li.Client("us-east-1").endpoint_url == "http://profile-service:2"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://env-global:3")
    assert li.Client("us-east-1").endpoint_url == "http://env-global:3"
    monkeypatch.setenv("AWS_ENDPOINT_URL_LIGHTSAIL", "http://env-service:4")
    assert li.Client("us-east-1").endpoint_url == "http://env-service:4"
    assert li.Client("us-east-1", endpoint_url="http://arg:5").endpoint_url == "http://arg:5"
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert li.Client("us-east-1").endpoint_url == "https://lightsail.us-east-1.amazonaws.com"
    assert li.Client("us-east-1", endpoint_url="http://arg:5").endpoint_url == "http://arg:5"


def test_profile_global_endpoint(aws_files: tuple[str, str]) -> None:
    write(aws_files[0], "[default]\nendpoint_url = http://profile-global:1\n")
    assert li.Client("us-east-1").endpoint_url == "http://profile-global:1"


def test_profile_can_ignore_configured_endpoints(
    monkeypatch: pytest.MonkeyPatch, aws_files: tuple[str, str]
) -> None:
    write(
        aws_files[0],
        "[default]\nendpoint_url = http://x:1\nignore_configured_endpoint_urls = true\n",
    )
    assert li.Client("us-east-1").endpoint_url == "https://lightsail.us-east-1.amazonaws.com"


BAD_ENDPOINT_URLS = [
    "lightsail.example.com",
    "ftp://x",
    "http://",
    "not a url",
    "http://[::1",  # urlsplit raises ValueError
    "http://127.0.0.1:99999",  # .port raises ValueError
    "http://127.0.0.1:0",
    "http://127.0.0.1:http",
    "http://127.0.0.1:-1",
    "http://exa mple.com",
    "http://example.com/\r\nX-Injected: 1",
]


@pytest.mark.parametrize("url", BAD_ENDPOINT_URLS)
def test_invalid_endpoint_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="not a valid endpoint URL") as caught:
        li.Client("us-east-1", endpoint_url=url)
    assert str(caught.value).startswith(f"endpoint_url {url!r} is not a valid endpoint URL")
    assert caught.value.__cause__ is None


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_LIGHTSAIL", "AWS_ENDPOINT_URL"])
@pytest.mark.parametrize("url", ["http://[::1", "http://127.0.0.1:99999"])
def test_invalid_endpoint_urls_from_the_environment_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, url: str
) -> None:
    monkeypatch.setenv(variable, url)
    with pytest.raises(ConfigurationError) as caught:
        li.Client("us-east-1")
    assert str(caught.value).startswith(f"{variable} {url!r} is not a valid endpoint URL")


@pytest.mark.parametrize(
    "url", ["http://[::1]:8080", "https://127.0.0.1:65535/", "http://localhost:1/base"]
)
def test_valid_endpoint_urls_with_ports_and_ipv6_are_kept(url: str) -> None:
    assert li.Client("us-east-1", endpoint_url=url).endpoint_url == url


# --- max_attempts -----------------------------------------------------------------


def test_max_attempts_precedence(
    monkeypatch: pytest.MonkeyPatch, aws_files: tuple[str, str]
) -> None:
    assert li.Client("us-east-1").max_attempts == 3
    write(aws_files[0], "[default]\nmax_attempts = 7\n")
    assert li.Client("us-east-1").max_attempts == 7
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "5")
    assert li.Client("us-east-1").max_attempts == 5
    assert li.Client("us-east-1", config=li.ClientConfig(max_attempts=2)).max_attempts == 2


@pytest.mark.parametrize("value", ["zero", "0", "-1", "1.5"])
def test_bad_max_attempts_in_the_environment(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", value)
    with pytest.raises(ConfigurationError, match=r"max_attempts|AWS_MAX_ATTEMPTS"):
        li.Client("us-east-1")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"read_timeout": -1}, "read_timeout"),
        ({"read_timeout": True}, "read_timeout"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 2.5}, "max_attempts"),
        ({"max_pool_connections": 0}, "max_pool_connections"),
    ],
)
def test_client_config_rejects_nonsense(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        li.ClientConfig(**kwargs)  # type: ignore[arg-type]


def test_client_config_defaults_match_botocore() -> None:
    config = li.ClientConfig()
    assert (config.connect_timeout, config.read_timeout) == (60, 60)
    assert config.max_attempts is None
    assert config.parameter_validation is True
    assert config.user_agent_extra is None
    with pytest.raises(AttributeError):
        config.read_timeout = 1  # type: ignore[misc]


# --- credentials -----------------------------------------------------------------


@responses.activate
def test_credentials_from_the_environment_are_found_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    responses.post("https://lightsail.us-east-1.amazonaws.com/", json=OK)
    client = li.Client("us-east-1")  # no credentials yet: construction must not fail
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    request = responses.calls[0].request
    assert "Credential=AKIDFROMENV/" in authorization(responses.calls[0])
    assert request.headers["X-Amz-Security-Token"] == "env-token"


@responses.activate
def test_credentials_from_a_profile(aws_files: tuple[str, str]) -> None:
    write(
        aws_files[1],
        "[ops]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n",
    )
    responses.post("https://lightsail.eu-west-1.amazonaws.com/", json=OK)
    li.Client("eu-west-1", profile_name="ops").register_container_image(
        service_name="svc", label="web", digest=DIGEST
    )
    assert "Credential=AKIDPROFILE/" in authorization(responses.calls[0])
    assert "/eu-west-1/lightsail/aws4_request" in authorization(responses.calls[0])


@responses.activate
def test_explicit_keys_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    responses.post("https://lightsail.us-east-1.amazonaws.com/", json=OK)
    li.Client(
        "us-east-1", aws_access_key_id="AKIDEXPLICIT", aws_secret_access_key="s"
    ).register_container_image(service_name="svc", label="web", digest=DIGEST)
    assert "Credential=AKIDEXPLICIT/" in authorization(responses.calls[0])
    assert "X-Amz-Security-Token" not in responses.calls[0].request.headers


def test_no_credentials_says_how_to_fix_it() -> None:
    client = li.Client("us-east-1")
    with pytest.raises(li.NoCredentialsError) as info:
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    message = str(info.value)
    for hint in ("aws_access_key_id", "AWS_ACCESS_KEY_ID", "profile"):
        assert hint in message


def test_broken_credential_configuration_is_translated(aws_files: tuple[str, str]) -> None:
    # A profile that assumes a role with no source: botocore raises its own error.
    write(aws_files[0], "[profile broken]\nrole_arn = arn:aws:iam::123456789012:role/x\n")
    client = li.Client("us-east-1", profile_name="broken")
    with pytest.raises(li.NoCredentialsError) as info:
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    assert info.value.__cause__ is not None
    assert "could not load AWS credentials" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"aws_access_key_id": "AKID"}, "aws_secret_access_key is missing"),
        ({"aws_secret_access_key": "s"}, "aws_access_key_id is missing"),
        ({"aws_session_token": "t"}, "aws_session_token was given"),
    ],
)
def test_partial_explicit_credentials_are_refused_at_construction(
    kwargs: dict[str, str], needle: str
) -> None:
    with pytest.raises(ConfigurationError, match=needle):
        li.Client("us-east-1", **kwargs)  # type: ignore[arg-type]


def test_botocore_session_and_profile_name_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="either botocore_session or profile_name"):
        li.Client("us-east-1", botocore_session=botocore.session.Session(), profile_name="x")


@responses.activate
def test_botocore_session_supplies_region_and_refreshable_credentials() -> None:
    refreshed: list[int] = []

    def refresh() -> dict[str, str]:
        refreshed.append(1)
        expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(
            seconds=5 if len(refreshed) == 1 else 3600
        )
        return {
            "access_key": f"AKIDREFRESH{len(refreshed)}",
            "secret_key": "refreshable-secret",
            "token": f"token-{len(refreshed)}",
            "expiry_time": expiry.isoformat(),
        }

    creds = botocore.credentials.RefreshableCredentials.create_from_metadata(
        refresh(), refresh_using=refresh, method="test"
    )
    session = botocore.session.Session()
    session.set_config_variable("region", "ap-northeast-1")
    session._credentials = creds
    responses.post("https://lightsail.ap-northeast-1.amazonaws.com/", json=OK)
    client = li.Client(botocore_session=session)
    assert client.region_name == "ap-northeast-1"
    client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    # The first credentials expire within botocore's refresh window: a refresh happens.
    assert "Credential=AKIDREFRESH2/" in authorization(responses.calls[0])
    assert responses.calls[0].request.headers["X-Amz-Security-Token"] == "token-2"


# --- http session, user agent, lifecycle ---------------------------------------------


@responses.activate
def test_user_agent_suffix_and_given_http_session() -> None:
    responses.post("https://lightsail.us-east-1.amazonaws.com/", json=OK)
    session = requests.Session()
    with li.Client(
        "us-east-1",
        aws_access_key_id="AKID",
        aws_secret_access_key="s",
        config=li.ClientConfig(user_agent_extra="my-pipeline/2.0"),
        http_session=session,
    ) as client:
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)
    agent = responses.calls[0].request.headers["User-Agent"]
    assert agent.startswith(f"lightsail-images/{li.__version__} ")
    assert agent.endswith(" my-pipeline/2.0")
    # A session the caller owns stays open after the client closes.
    assert session.adapters


def test_closed_client_refuses_calls() -> None:
    with li.Client("us-east-1", aws_access_key_id="AKID", aws_secret_access_key="s") as client:
        pass
    with pytest.raises(ConfigurationError, match="closed"):
        client.register_container_image(service_name="svc", label="web", digest=DIGEST)


def test_client_properties_and_repr() -> None:
    config = li.ClientConfig(read_timeout=5)
    client = li.Client(
        "us-west-2",
        config=config,
        aws_access_key_id="AKIDREPR",
        aws_secret_access_key="repr-secret",
    )
    assert client.config is config
    assert (
        repr(client)
        == "<lightsail_images.Client region='us-west-2' endpoint='https://lightsail.us-west-2.amazonaws.com'>"
    )
