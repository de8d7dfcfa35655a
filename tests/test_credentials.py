"""Credentials from the environment or a profile: the fast path answers exactly as botocore.

Every expectation here is botocore's own answer: for each combination of
environment keys, tokens, ``AWS_PROFILE``/``AWS_DEFAULT_PROFILE``, an explicit
``profile_name``, credentials-file and config-file sections (with conflicting
values), settings of other providers and missing profiles, the test writes
real files in a temporary home, asks ``botocore.session.Session(profile=...)
.get_credentials()``, and asks a fresh ``CredentialSource``: the keys, the
token and the provider (``method``) must be the same, and so must a failure.
Where the fast path answers, its raw answer (an empty token included) must be
botocore's, and no botocore Session may have been built.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import pathlib
import tempfile
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lightsail_images as li
from lightsail_images._config import SessionSource
from lightsail_images._credentials import StaticCredentials, find_static_credentials
from lightsail_images._signing import CredentialSource

PROFILES = ("default", "dev", "other")

# A process botocore's ProcessProvider runs for real: local, fast, no network.
PROCESS_OUTPUT = json.dumps(
    {"Version": 1, "AccessKeyId": "AKIDPROCESS", "SecretAccessKey": "process-secret"}
)
# Settings of providers the fast path leaves to botocore, each answering (or
# failing) offline: a real credential_process, SSO with no cached token, a role
# with no source, an instance-metadata setting botocore fails to convert.
FOREIGN_SETTINGS: dict[str, dict[str, str]] = {
    "credential_process": {"credential_process": f"echo '{PROCESS_OUTPUT}'"},
    "sso": {
        "sso_start_url": "https://example.invalid/start",
        "sso_region": "us-east-1",
        "sso_account_id": "123456789012",
        "sso_role_name": "dev",
    },
    "role_arn": {"role_arn": "arn:aws:iam::123456789012:role/dev"},
    "bad metadata timeout": {"metadata_service_timeout": "soon"},
    "login_session": {"login_session": "arn:aws:iam::123456789012:user/dev"},
}


def section(kind: str, tag: str) -> dict[str, str] | None:
    """One profile section's keys; ``tag`` makes every file's values distinct."""
    keys = {"aws_access_key_id": f"AKID{tag}", "aws_secret_access_key": f"secret-{tag}"}
    sections: dict[str, dict[str, str] | None] = {
        "absent": None,
        "region only": {"region": "eu-west-1"},
        "keys": keys,
        "keys and session token": {**keys, "aws_session_token": f"session-{tag}"},
        "keys and security token": {**keys, "aws_security_token": f"security-{tag}"},
        "keys and both tokens": {
            **keys,
            "aws_session_token": f"session-{tag}",
            "aws_security_token": f"security-{tag}",
        },
        "keys and an empty token": {**keys, "aws_session_token": ""},
        "access key only": {"aws_access_key_id": f"AKID{tag}"},
        "secret only": {"aws_secret_access_key": f"secret-{tag}"},
        "empty access key": {**keys, "aws_access_key_id": ""},
    }
    if kind in sections:
        return sections[kind]
    return {**keys, **FOREIGN_SETTINGS[kind]}


SECTION_KINDS = (
    "absent",
    "region only",
    "keys",
    "keys and session token",
    "keys and security token",
    "keys and both tokens",
    "keys and an empty token",
    "access key only",
    "secret only",
    "empty access key",
    *FOREIGN_SETTINGS,
)

ABSENT = None
ENV_VALUES = {
    "AWS_ACCESS_KEY_ID": (ABSENT, "", "AKIDENVIRONMENT"),
    "AWS_SECRET_ACCESS_KEY": (ABSENT, "", "environment-secret"),
    "AWS_SESSION_TOKEN": (ABSENT, "", "environment-session"),
    "AWS_SECURITY_TOKEN": (ABSENT, "", "environment-security"),
    "AWS_PROFILE": (ABSENT, "", "default", "dev", "other", "missing"),
    "AWS_DEFAULT_PROFILE": (ABSENT, "other", "missing"),
}


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """One combination: environment, explicit profile, both files, file locations."""
    environment = {
        name: value
        for name, choices in ENV_VALUES.items()
        if (value := draw(st.sampled_from(choices))) is not None
    }
    return {
        "environment": environment,
        "profile_name": draw(st.sampled_from((None, "default", "dev", "other", "missing"))),
        "credentials": {p: draw(st.sampled_from(SECTION_KINDS)) for p in PROFILES},
        "config": {p: draw(st.sampled_from(SECTION_KINDS)) for p in PROFILES},
        # [default] and [profile default] both name the default profile in the config file.
        "default_header": draw(st.sampled_from(("default", "profile default"))),
        # Files named by AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, or found in ~/.aws.
        "named_files": draw(st.booleans()),
    }


def ini(sections: dict[str, dict[str, str] | None], header: dict[str, str]) -> str:
    lines = []
    for name, values in sections.items():
        if values is None:
            continue
        lines.append(f"[{header.get(name, name)}]")
        lines += [f"{key} = {value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def aws_world(scenario: dict[str, Any]) -> Iterator[None]:
    """Write the files in a fresh home and set the environment; restore everything after."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as home:
        aws = pathlib.Path(home, ".aws")
        aws.mkdir()
        credentials = {p: section(k, f"CREDS{p}") for p, k in scenario["credentials"].items()}
        config = {p: section(k, f"CONFIG{p}") for p, k in scenario["config"].items()}
        config_headers = {"default": scenario["default_header"], "dev": "profile dev"}
        config_headers["other"] = "profile other"
        if scenario["named_files"]:
            config_path, credentials_path = aws / "named-config", aws / "named-credentials"
        else:
            config_path, credentials_path = aws / "config", aws / "credentials"
        config_path.write_text(ini(config, config_headers))
        credentials_path.write_text(ini(credentials, {}))
        for name in list(os.environ):
            if name.startswith("AWS_"):
                del os.environ[name]
        os.environ["HOME"] = home
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
        if scenario["named_files"]:
            os.environ["AWS_CONFIG_FILE"] = str(config_path)
            os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials_path)
        os.environ.update(scenario["environment"])
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def botocore_answer(profile_name: str | None) -> tuple[Any, ...] | None:
    """botocore's credentials: (access, secret, token, method), None, or the error's type."""
    try:
        credentials = botocore.session.Session(profile=profile_name).get_credentials()
        if credentials is None:
            return None
        frozen = credentials.get_frozen_credentials()
    except Exception as exc:  # the type is the answer compared
        return ("error", type(exc).__name__)
    return (frozen.access_key, frozen.secret_key, frozen.token, credentials.method)


class Sessions:
    """Counts botocore Sessions built while it is active."""

    def __init__(self) -> None:
        self.built = 0

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        original = botocore.session.Session.__init__

        def counted(session: object, *args: object, **kwargs: object) -> None:
            self.built += 1
            original(session, *args, **kwargs)

        botocore.session.Session.__init__ = counted  # type: ignore[method-assign]
        try:
            yield
        finally:
            botocore.session.Session.__init__ = original  # type: ignore[method-assign]


def our_answer(profile_name: str | None) -> tuple[tuple[Any, ...] | None, Any, int]:
    """Ours, in botocore's terms; the raw chain object; the botocore Sessions built."""
    source = CredentialSource(
        explicit=None, sessions=SessionSource(botocore_session=None, profile_name=profile_name)
    )
    sessions = Sessions()
    with sessions.counting():
        try:
            frozen = source.get()
        except li.NoCredentialsError as exc:
            cause = exc.__cause__
            answer = None if cause is None else ("error", type(cause).__name__)
            if "incomplete" in str(exc):
                answer = ("incomplete",)
        else:
            answer = (frozen.access_key, frozen.secret_key, frozen.token, source.method)
    return answer, source._chain, sessions.built


def as_the_client_sees_it(answer: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    """botocore's answer after the client's own checks: no empty keys, no empty token."""
    if answer is None or answer[0] == "error":
        return answer
    access, secret, token, method = answer
    if not access or not secret:
        return ("incomplete",)
    return (access, secret, token or None, method)


def check(scenario: dict[str, Any]) -> tuple[Any, ...] | None:
    with aws_world(scenario):
        expected = botocore_answer(scenario["profile_name"])
        ours, chain, sessions_built = our_answer(scenario["profile_name"])
    assert ours == as_the_client_sees_it(expected), scenario
    if isinstance(chain, StaticCredentials):
        assert tuple(chain) == expected, scenario  # the raw answer, empty token and all
        assert sessions_built == 0
    return expected


@settings(max_examples=250)
@given(scenarios())
def test_the_fast_path_answers_as_botocores_chain(scenario: dict[str, Any]) -> None:
    check(scenario)


# The core dimensions, every combination: environment keys, AWS_PROFILE, an
# explicit profile, and the "dev" profile in each file (including another
# provider's settings and half a key pair).
MATRIX = list(
    itertools.product(
        ("no keys", "keys", "access key only"),
        (ABSENT, "dev", "missing"),
        (None, "dev", "default", "missing"),
        ("absent", "keys", "keys and security token", "access key only", "sso"),
        ("absent", "keys and session token", "credential_process"),
    )
)
ENVIRONMENT_KEYS = {
    "no keys": {},
    "keys": {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret"},
    "access key only": {"AWS_ACCESS_KEY_ID": "AKIDENV"},
}


@pytest.mark.parametrize(
    ("keys", "aws_profile", "profile_name", "credentials_file", "config_file"), MATRIX
)
def test_every_combination_of_the_core_dimensions_is_botocores(
    keys: str,
    aws_profile: str | None,
    profile_name: str | None,
    credentials_file: str,
    config_file: str,
) -> None:
    environment = dict(ENVIRONMENT_KEYS[keys])
    if aws_profile is not None:
        environment["AWS_PROFILE"] = aws_profile
    check(
        scenario(
            environment=environment,
            profile_name=profile_name,
            credentials={"default": "keys", "dev": credentials_file, "other": "absent"},
            config={"default": "absent", "dev": config_file, "other": "absent"},
        )
    )


# Common setups, each named: the answer is still botocore's, and the fast path gives it.
def scenario(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "environment": {},
        "profile_name": None,
        "credentials": dict.fromkeys(PROFILES, "absent"),
        "config": dict.fromkeys(PROFILES, "absent"),
        "default_header": "default",
        "named_files": False,
    }
    return {**base, **changes}


ENV_KEYS = {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret"}
FAST = {
    "environment keys": scenario(environment=ENV_KEYS),
    "environment keys and session token": scenario(
        environment={**ENV_KEYS, "AWS_SESSION_TOKEN": "tok"}
    ),
    "legacy security token first": scenario(
        environment={**ENV_KEYS, "AWS_SESSION_TOKEN": "new", "AWS_SECURITY_TOKEN": "old"}
    ),
    "environment beats AWS_PROFILE": scenario(
        environment={**ENV_KEYS, "AWS_PROFILE": "dev"}, credentials={"dev": "keys"}
    ),
    "explicit profile beats environment": scenario(
        environment=ENV_KEYS, profile_name="dev", credentials={"dev": "keys"}
    ),
    "default profile, credentials file": scenario(credentials={"default": "keys"}),
    "credentials file beats config file": scenario(
        environment={"AWS_PROFILE": "dev"},
        credentials={"dev": "keys and session token"},
        config={"dev": "keys and security token"},
    ),
    "config file alone": scenario(profile_name="dev", config={"dev": "keys and both tokens"}),
    "named files": scenario(credentials={"default": "keys"}, named_files=True),
    "[profile default] header": scenario(
        config={"default": "keys"}, default_header="profile default"
    ),
}


@pytest.mark.parametrize("name", FAST)
def test_common_setups_take_the_fast_path_with_botocores_answer(name: str) -> None:
    with aws_world(FAST[name]):
        expected = botocore_answer(FAST[name]["profile_name"])
        ours, chain, sessions_built = our_answer(FAST[name]["profile_name"])
    assert expected is not None
    assert expected[0] != "error"
    assert ours == as_the_client_sees_it(expected)
    assert isinstance(chain, StaticCredentials)
    assert sessions_built == 0


HANDED_OVER = {
    "credential_process": scenario(credentials={"default": "credential_process"}),
    "SSO": scenario(environment={"AWS_PROFILE": "dev"}, config={"dev": "sso"}),
    "role_arn": scenario(profile_name="dev", config={"dev": "role_arn"}),
    "bad instance-metadata setting": scenario(
        environment=ENV_KEYS, config={"default": "bad metadata timeout"}
    ),
    "missing AWS_PROFILE with environment keys": scenario(
        environment={**ENV_KEYS, "AWS_PROFILE": "missing"}
    ),
    "missing explicit profile": scenario(profile_name="missing"),
    "half a key pair": scenario(credentials={"default": "access key only"}),
    "no credentials at all": scenario(),
    "expiring environment keys": scenario(
        environment={**ENV_KEYS, "AWS_CREDENTIAL_EXPIRATION": "2999-01-01T00:00:00Z"}
    ),
}


@pytest.mark.parametrize("name", HANDED_OVER)
def test_other_providers_and_failures_are_botocores_own(name: str) -> None:
    with aws_world(HANDED_OVER[name]):
        expected = botocore_answer(HANDED_OVER[name]["profile_name"])
        ours, chain, sessions_built = our_answer(HANDED_OVER[name]["profile_name"])
    assert ours == as_the_client_sees_it(expected)
    assert not isinstance(chain, StaticCredentials)
    assert sessions_built == 1


def test_a_malformed_config_file_is_botocores_error() -> None:
    with aws_world(scenario(environment=ENV_KEYS)):
        pathlib.Path(os.environ["HOME"], ".aws", "config").write_text("[default\nregion=x\n")
        expected = botocore_answer(None)
        ours, chain, _ = our_answer(None)
    assert expected == ("error", "ConfigParseError")
    assert ours == expected
    assert chain is None


# Environment variables of other providers: the fast path hands over whenever
# one is set, even where botocore would end up with the environment keys.
@pytest.mark.parametrize(
    "variable",
    [
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CREDENTIAL_EXPIRATION",
        "AWS_METADATA_SERVICE_TIMEOUT",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    ],
)
def test_another_providers_environment_variable_hands_over(variable: str) -> None:
    found = find_static_credentials(
        {**ENV_KEYS, variable: "x"},
        explicit_profile=False,
        profile_name=None,
        profiles={},
        credentials_file={},
        config_file_profiles={},
    )
    assert found is None
    with aws_world(scenario(environment={**ENV_KEYS, variable: "x"})):
        ours, chain, _ = our_answer(None)
    assert not isinstance(chain, StaticCredentials)
    assert ours is not None


@pytest.mark.parametrize(
    "key",
    [
        "role_arn",
        "source_profile",
        "credential_source",
        "credential_process",
        "web_identity_token_file",
        "sso_session",
        "sso_account_id",
        "login_session",
        "metadata_service_num_attempts",
        "ec2_metadata_v1_disabled",
    ],
)
def test_another_providers_profile_key_hands_over(key: str) -> None:
    profile = {"aws_access_key_id": "AKID", "aws_secret_access_key": "s", key: "x"}
    found = find_static_credentials(
        {},
        explicit_profile=False,
        profile_name=None,
        profiles={"default": profile},
        credentials_file={"default": profile},
        config_file_profiles={},
    )
    assert found is None


def test_a_client_with_environment_keys_signs_with_them_and_builds_no_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.scripted_server import Reply, scripted_server

    digest = "sha256:" + "c4" * 32
    ok = {"containerImage": {"image": ":svc.web.1", "digest": digest, "createdAt": 1}}
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    sessions = Sessions()
    with scripted_server(default=Reply.json(200, ok)) as server, sessions.counting():
        client = li.Client("us-east-1", endpoint_url=server.url)
        client.register_container_image(service_name="svc", label="web", digest=digest)
    (request,) = server.requests
    assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDFROMENV/")
    assert sessions.built == 0


def test_static_credentials_never_show_the_secret() -> None:
    found = StaticCredentials("AKIDSHOWN", "the-secret", "the-token", "env")
    assert "the-secret" not in repr(found)
    assert "the-token" not in repr(found)
