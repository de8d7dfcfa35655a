"""Secrets in service error messages and in exception cause chains.

Two ways a secret reaches an exception without any log line:

- AWS answers a signature mismatch with ``InvalidSignatureException`` whose
  message quotes the canonical request it computed, and that carries the
  ``x-amz-security-token:<token>`` line.  botocore puts the message as it is
  into ``ClientError`` (shown below); this library redacts it before the
  message reaches ``ServiceError`` (``message``, ``response``, ``details``,
  ``str()``, pickles) or the CLI.
- A credential with a stray line break or a non-latin-1 character makes
  ``http.client`` raise ``ValueError("Invalid header value b'<token>\\r'")``,
  which a cause chain would carry.  Credentials are checked before anything is
  signed: a ``ConfigurationError`` names the setting, never the value, and has
  no cause.
"""

from __future__ import annotations

import pickle
import re
import traceback

import boto3
import botocore.config
import botocore.exceptions
import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

import lightsail_images as li
from lightsail_images import _cli
from lightsail_images.testing import FakeLightsail

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzREDACTIONsecretKEY"
WRONG_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzWRONGsecretKEYxx"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE/redaction+session=token//value"
ACCESS_KEY = "AKIAREDACTIONKEY0001"
DIGEST = "sha256:" + "7d" * 32
URL = "https://lightsail.us-east-1.amazonaws.com/"


def every_text(error: BaseException) -> str:
    """Everything a user could print of an exception, its causes included."""
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    cause = error.__cause__ or error.__context__
    while cause is not None:
        texts += [str(cause), repr(cause), repr(getattr(cause, "args", ()))]
        cause = cause.__cause__ or cause.__context__
    texts.append(repr(vars(error)))
    texts.append(pickle.dumps(error).decode("latin-1"))
    if isinstance(error, li.ServiceError):
        texts += [repr(error.response), repr(error.details), error.message]
    return "\n".join(texts)


def aws_mismatch_message(token: str) -> str:
    """The message AWS really sends for a signature mismatch (a session-token request)."""
    return (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service "
        "documentation for details.\n\nThe Canonical String for this request should have "
        "been\n'POST\n/\n\ncontent-type:application/x-amz-json-1.1\n"
        "host:lightsail.us-east-1.amazonaws.com\nx-amz-date:20250101T000000Z\n"
        f"x-amz-security-token:{token}\nx-amz-target:Lightsail_20161128.GetContainerImages\n\n"
        "content-type;host;x-amz-date;x-amz-security-token;x-amz-target\n"
        "5f3b0e1c5a0d6b1ee0e1fbb1f4b2e8b1cd4f0b6e2a3c6a5e8e9f0a1b2c3d4e5f'\n\n"
        "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20250101T000000Z\n"
        "20250101/us-east-1/lightsail/aws4_request\n"
        "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0'\n"
    )


# --- redaction of service error messages ------------------------------------------------


@pytest.fixture
def wrong_secret_fake() -> FakeLightsail:
    """A fake whose key has a session token; clients below sign with the wrong secret."""
    fake = FakeLightsail(access_key_id=ACCESS_KEY, secret_access_key=SECRET, session_token=TOKEN)
    fake.add_container_service("svc")
    return fake


def test_the_fake_quotes_the_canonical_request_with_the_token_as_aws_does(
    wrong_secret_fake: FakeLightsail,
) -> None:
    with wrong_secret_fake.serve() as url:
        client = li.Client(
            "us-east-1",
            endpoint_url=url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=WRONG_SECRET,
            aws_session_token=TOKEN,
        )
        with client, pytest.raises(li.ServiceError):
            client.get_container_images(service_name="svc")
    sent = wrong_secret_fake.requests[-1]
    assert sent.error_type == "InvalidSignatureException"
    # What went over the wire: AWS's own wording, the token in the canonical request.
    answered = wrong_secret_fake.handle(sent.method, sent.target, sent.headers, sent.body)
    answered_message = answered.json()["message"]
    assert answered_message.startswith(
        "The request signature we calculated does not match the signature you provided."
    )
    assert (
        "The Canonical String for this request should have been\n'POST\n/\n\n" in answered_message
    )
    assert f"\nx-amz-security-token:{TOKEN}\n" in answered_message
    assert "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in answered_message


def test_botocore_puts_the_token_in_the_error_and_we_do_not(
    wrong_secret_fake: FakeLightsail,
) -> None:
    with wrong_secret_fake.serve() as url:
        boto = boto3.client(
            "lightsail",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=WRONG_SECRET,
            aws_session_token=TOKEN,
            config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )
        with pytest.raises(botocore.exceptions.ClientError) as theirs:
            boto.get_container_images(serviceName="svc")
        boto.close()
        assert theirs.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert TOKEN in str(theirs.value)  # boto3 leaks it
        assert TOKEN in theirs.value.response["Error"]["Message"]

        with (
            li.Client(
                "us-east-1",
                endpoint_url=url,
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=WRONG_SECRET,
                aws_session_token=TOKEN,
            ) as client,
            pytest.raises(li.ServiceError) as ours,
        ):
            client.get_container_images(service_name="svc")
    error = ours.value
    assert error.code == "InvalidSignatureException"
    text = every_text(error)
    assert TOKEN not in text
    assert WRONG_SECRET not in text
    assert SECRET not in text
    # The rest of the message stays: it is what the user needs to debug signing.
    assert "x-amz-security-token:***\n" in error.message
    assert "The Canonical String for this request should have been" in error.message
    assert error.response["Error"]["Message"] == error.message
    assert error.details.message == error.message


@responses.activate
def test_the_aws_shaped_message_is_redacted_everywhere() -> None:
    responses.post(
        URL,
        status=403,
        headers={"x-amzn-ErrorType": "InvalidSignatureException:http://internal.amazon.com/"},
        json={
            "__type": "InvalidSignatureException",
            "message": aws_mismatch_message(TOKEN),
            # A service that echoed the secret or token in other members too.
            "tip": f"your key {SECRET} and token {TOKEN}",
            "docs": f"https://example.invalid/?token={TOKEN}",
            "code": TOKEN,
        },
    )
    client = li.Client(
        "us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
        config=li.ClientConfig(max_attempts=1),
    )
    with pytest.raises(li.ServiceError) as caught:
        client.get_container_images(service_name="svc")
    text = every_text(caught.value)
    assert TOKEN not in text
    assert SECRET not in text
    assert "x-amz-security-token:***\nx-amz-target:" in caught.value.message


@responses.activate
def test_a_token_line_is_redacted_even_when_it_is_not_ours() -> None:
    # A token from elsewhere (another process's, or one we no longer hold) in
    # the quoted canonical request is still a secret.
    other = "FwoGZXIvYXdzEOTHERtoken/that+is/not=ours"
    responses.post(
        URL,
        status=403,
        json={"__type": "InvalidSignatureException", "message": aws_mismatch_message(other)},
    )
    client = li.Client(
        "us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        config=li.ClientConfig(max_attempts=1),
    )
    with pytest.raises(li.ServiceError) as caught:
        client.get_container_images(service_name="svc")
    assert other not in every_text(caught.value)


def test_the_cli_does_not_print_the_token(
    wrong_secret_fake: FakeLightsail,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with wrong_secret_fake.serve() as url:
        for name, value in {
            "AWS_ENDPOINT_URL": url,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": WRONG_SECRET,
            "AWS_SESSION_TOKEN": TOKEN,
        }.items():
            monkeypatch.setenv(name, value)
        code = _cli.main(["list", "--service-name", "svc", "--debug"])
    out, err = capsys.readouterr()
    assert code == 3
    assert "InvalidSignatureException" in err
    assert "x-amz-security-token:***" in err
    assert TOKEN not in out + err
    assert WRONG_SECRET not in out + err


# --- credentials that cannot go into a header -------------------------------------------

BAD_TOKENS = {
    "trailing CR": TOKEN + "\r",
    "trailing LF": TOKEN + "\n",
    "inner CRLF": TOKEN[:10] + "\r\nX-Injected: 1",
    "non-latin-1": TOKEN[:10] + "\u20ac" + TOKEN[10:],
    "latin-1 but not ASCII": TOKEN[:10] + "\xe9" + TOKEN[10:],
    "a space": TOKEN[:10] + " " + TOKEN[10:],
    "NUL": TOKEN + "\x00",
}


@pytest.mark.parametrize("bad", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
def test_an_explicit_bad_token_is_refused_naming_the_argument(bad: str) -> None:
    with pytest.raises(li.ConfigurationError) as caught:
        li.Client(
            "us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET,
            aws_session_token=bad,
        )
    error = caught.value
    assert str(error).startswith("aws_session_token ")
    assert error.__cause__ is None
    assert error.__context__ is None
    assert TOKEN[:10] not in every_text(error)


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("aws_access_key_id", ACCESS_KEY + "\n"),
        ("aws_secret_access_key", SECRET + "\r"),
        ("aws_secret_access_key", "s\u00e9cret"),
    ],
)
def test_an_explicit_bad_key_is_refused_naming_the_argument(keyword: str, value: str) -> None:
    keys = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET, keyword: value}
    with pytest.raises(li.ConfigurationError) as caught:
        li.Client("us-east-1", **keys)
    assert str(caught.value).startswith(f"{keyword} ")
    assert value.strip() not in every_text(caught.value)


# The OS refuses NUL in the environment.
ENV_TOKENS = {name: value for name, value in BAD_TOKENS.items() if "\x00" not in value}


@pytest.mark.parametrize("bad", list(ENV_TOKENS.values()), ids=list(ENV_TOKENS))
def test_a_bad_token_from_the_environment_is_refused_before_sending(
    bad: str, monkeypatch: pytest.MonkeyPatch, fake: FakeLightsail
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", bad)
    with fake.serve() as url, li.Client("us-east-1", endpoint_url=url) as client:
        with pytest.raises(li.ConfigurationError) as caught:
            client.get_container_images(service_name="svc")
        assert not fake.requests  # nothing was sent
    error = caught.value
    assert str(error).startswith("AWS_SESSION_TOKEN ")
    assert error.__cause__ is None
    assert TOKEN[:10] not in every_text(error)


def test_a_bad_token_in_the_credentials_file_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "credentials"
    path.write_text(
        f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET}\n"
        f"aws_session_token = {TOKEN[:10]}\u00e9{TOKEN[10:]}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(path))
    client = li.Client("us-east-1", endpoint_url="http://127.0.0.1:1")
    with pytest.raises(li.ConfigurationError) as caught:
        client.get_container_images(service_name="svc")
    message = str(caught.value)
    assert message.startswith("aws_session_token in the shared credentials file")
    assert "non-ASCII" in message
    assert TOKEN[:10] not in every_text(caught.value)


def test_the_message_says_what_is_wrong_and_where_without_the_value() -> None:
    with pytest.raises(li.ConfigurationError) as caught:
        li.Client(
            "us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET,
            aws_session_token=TOKEN + "\r",
        )
    assert str(caught.value) == (
        f"aws_session_token has a line break at character {len(TOKEN) + 1} of "
        f"{len(TOKEN) + 1}; AWS credentials are printable ASCII with no spaces (a copy and "
        "paste often adds a line break or a space at the end); set it again without it"
    )


@given(
    token=st.text(min_size=1, max_size=40).filter(
        lambda text: not all("!" <= char <= "~" for char in text)
    )
)
def test_any_token_that_is_not_printable_ascii_is_refused_without_echo(token: str) -> None:
    with pytest.raises(li.ConfigurationError) as caught:
        li.Client(
            "us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET,
            aws_session_token=token,
        )
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    # The message is the fixed template, with positions only: no room for the value.
    kinds = "a line break|a space or tab|a control character|a non-ASCII character"
    assert re.fullmatch(
        rf"aws_session_token has ({kinds}) at character \d+ of {len(token)}; AWS credentials "
        r"are printable ASCII with no spaces \(a copy and paste often adds a line break or a "
        r"space at the end\); set it again without it",
        str(caught.value),
    )
