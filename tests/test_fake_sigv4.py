"""The fake's SigV4 verifier: botocore signs, our own hashlib/hmac code checks.

Every request here is signed by botocore's SigV4Auth, which the verifier never
calls, so agreement between the two is evidence that both follow the spec.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from email.utils import parsedate_to_datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from lightsail_images.testing import FakeLightsail
from lightsail_images.testing._sigv4 import KeyPair, canonical_request, verify

HOST = "lightsail.us-east-1.amazonaws.com"


def answer(fake, headers, body):
    response = fake.handle("POST", "/", headers, body)
    return response.status_code, response.json()


def test_a_request_signed_by_botocore_is_accepted(fake, sign_request):
    status, body = answer(fake, *sign_request(fake))
    assert status == 200
    assert body == {"containerServices": []}
    assert fake.requests[-1].signature_valid is True


def test_wrong_secret_is_an_invalid_signature_with_the_expected_canonical_request(
    fake, sign_request
):
    status, body = answer(fake, *sign_request(fake, secret="not-the-secret"))
    assert status == 403
    assert body["__type"].endswith("#InvalidSignatureException")
    assert "does not match" in body["message"]
    assert "The Canonical String for this request should have been\n'POST\n/\n\n" in body["message"]
    assert "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in body["message"]
    assert fake.requests[-1].signature_valid is False


def test_unknown_access_key_is_an_unrecognized_client(fake, sign_request):
    status, body = answer(fake, *sign_request(fake, access_key="AKIAUNKNOWNKEY000000"))
    assert status == 403
    assert body["__type"].endswith("#UnrecognizedClientException")


def test_tampered_body_fails_the_signature(fake, sign_request):
    headers, _ = sign_request(fake, "GetContainerServices", {"serviceName": "a"})
    status, body = answer(fake, headers, json.dumps({"serviceName": "b"}).encode())
    assert (status, body["__type"]) == (403, "com.amazon.coral.service#InvalidSignatureException")


def test_tampered_signed_header_fails_the_signature(fake, sign_request):
    headers, body = sign_request(fake, "GetContainerServices")
    headers["X-Amz-Target"] = "Lightsail_20161128.GetContainerImages"
    assert answer(fake, headers, body)[0] == 403


def test_unknown_items_in_the_authorization_header_are_ignored(fake, sign_request):
    headers, body = sign_request(fake)
    headers["Authorization"] += ", Extra"
    assert answer(fake, headers, body)[0] == 200


def test_unsigned_headers_may_change(fake, sign_request):
    headers, body = sign_request(fake)
    headers["User-Agent"] = "added after signing, as botocore does"
    assert answer(fake, headers, body)[0] == 200


@pytest.mark.parametrize(
    ("skew", "prefix"),
    [
        (dt.timedelta(minutes=6), "Signature expired"),
        (dt.timedelta(minutes=-6), "Signature not yet current"),
    ],
)
def test_a_clock_more_than_five_minutes_off_is_refused_with_400(fake, skew, prefix, sign_request):
    fake.clock_skew = skew
    response = fake.handle("POST", "/", *sign_request(fake))
    assert response.status_code == 400
    assert response.json()["__type"].endswith("#InvalidSignatureException")
    assert response.json()["message"].startswith(prefix)
    # The Date header tells the client the server's (skewed) time.
    server_date = parsedate_to_datetime(response.header("Date"))
    now = dt.datetime.now(dt.timezone.utc)
    assert abs(server_date - (now + skew)) < dt.timedelta(seconds=5)


def test_a_clock_within_five_minutes_is_accepted(fake, sign_request):
    fake.clock_skew = dt.timedelta(minutes=4)
    assert answer(fake, *sign_request(fake))[0] == 200


def test_wrong_region_is_refused(fake, sign_request):
    status, body = answer(fake, *sign_request(fake, region="eu-west-1"))
    assert status == 403
    assert "eu-west-1" in body["message"]
    assert body["__type"].endswith("#InvalidSignatureException")


def test_wrong_service_is_refused(fake, sign_request):
    status, body = answer(fake, *sign_request(fake, service="ec2"))
    assert status == 403
    assert "'ec2'" in body["message"]


def test_scope_date_must_match_x_amz_date(fake, sign_request):
    headers, body = sign_request(fake)
    headers["Authorization"] = re.sub(r"/\d{8}/", "/20000101/", headers["Authorization"])
    status, error = answer(fake, headers, body)
    assert status == 403
    assert "20000101" in error["message"]


def test_scope_must_end_with_aws4_request(fake, sign_request):
    headers, body = sign_request(fake)
    headers["Authorization"] = headers["Authorization"].replace("/aws4_request", "/aws5_request")
    assert answer(fake, headers, body)[0] == 403


def test_missing_authorization(fake, sign_request):
    headers, body = sign_request(fake)
    del headers["Authorization"]
    status, error = answer(fake, headers, body)
    assert status == 403
    assert error["__type"].endswith("#MissingAuthenticationTokenException")


@pytest.mark.parametrize(
    ("mangle", "detail"),
    [
        (lambda a: a.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"), "algorithm"),
        (lambda a: re.sub(r", Signature=\w+", "", a), "missing Signature"),
        (lambda a: re.sub(r"Credential=[^,]+", "Credential=AKID/20240101", a), "Credential"),
        (
            lambda a: a.replace("SignedHeaders=content-type;host;", "SignedHeaders=content-type;"),
            "Host",
        ),
    ],
)
def test_malformed_authorization_is_an_incomplete_signature(fake, mangle, detail, sign_request):
    headers, body = sign_request(fake)
    headers["Authorization"] = mangle(headers["Authorization"])
    status, error = answer(fake, headers, body)
    assert status == 400
    assert error["__type"].endswith("#IncompleteSignatureException")
    assert detail in error["message"]


def test_malformed_x_amz_date_is_an_incomplete_signature(fake, sign_request):
    headers, body = sign_request(fake)
    headers["X-Amz-Date"] = "yesterday"
    status, error = answer(fake, headers, body)
    assert status == 400
    assert "X-Amz-Date" in error["message"]


def test_session_token_is_required_and_checked_when_configured(sign_request):
    fake = FakeLightsail(session_token="the-session-token")
    assert fake.session_token == "the-session-token"
    assert answer(fake, *sign_request(fake, token="the-session-token"))[0] == 200
    for token in (None, "another-token"):
        status, error = answer(fake, *sign_request(fake, token=token))
        assert status == 403
        assert error["__type"].endswith("#UnrecognizedClientException")


def test_a_session_token_for_a_long_term_key_is_refused(fake, sign_request):
    status, error = answer(fake, *sign_request(fake, token="unexpected"))
    assert status == 403
    assert "not temporary" in error["message"]


def test_added_credentials_are_accepted(fake, sign_request):
    fake.add_credentials("AKIASECONDKEY0000000", "second-secret", "token-2")
    headers, body = sign_request(fake, access_key="AKIASECONDKEY0000000", secret="second-secret")
    assert answer(fake, headers, body)[0] == 403  # the token is required
    headers, body = sign_request(
        fake, access_key="AKIASECONDKEY0000000", secret="second-secret", token="token-2"
    )
    assert answer(fake, headers, body)[0] == 200


def test_key_pair_repr_hides_the_secret():
    assert "s3cret" not in repr(KeyPair("AKID", "s3cret"))


# --- property: the verifier agrees with botocore on arbitrary requests ----------------


class _RecordingSigV4Auth(SigV4Auth):
    """botocore's signer, keeping the canonical request it signed."""

    def canonical_request(self, request):
        self.signed_canonical_request = super().canonical_request(request)
        return self.signed_canonical_request


_SAFE = st.text("abcXYZ019-_.~", min_size=1, max_size=6)
_SEGMENT = st.one_of(_SAFE, st.sampled_from(["", ".", "..", "a%20b", "%7E"]))
_VALUE = st.text(" abc\tXYZ,;:=/", max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    segments=st.lists(_SEGMENT, max_size=5),
    trailing=st.booleans(),
    query=st.lists(st.tuples(_SAFE, st.text("abc019-_.~", max_size=4)), max_size=4),
    extra=st.dictionaries(st.sampled_from(["x-amz-meta-a", "x-custom", "x-b"]), _VALUE),
    body=st.binary(max_size=64),
)
def test_every_botocore_signed_request_verifies(segments, trailing, query, extra, body):
    path = "/" + "/".join(segments) + ("/" if trailing and segments else "")
    target = path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    request = AWSRequest(method="POST", url=f"https://{HOST}{target}", data=body, headers=extra)
    auth = _RecordingSigV4Auth(Credentials("AKID", "secret"), "lightsail", "us-east-1")
    auth.add_auth(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    headers["host"] = HOST
    signed = re.search(r"SignedHeaders=([^,]+)", headers["authorization"])[1].split(";")
    assert canonical_request("POST", target, headers, signed, body) == (
        auth.signed_canonical_request
    )
    failure = verify(
        method="POST",
        target=target,
        headers=headers,
        body=body,
        keys={"AKID": KeyPair("AKID", "secret")},
        region="us-east-1",
        service="lightsail",
        now=dt.datetime.now(dt.timezone.utc),
    )
    assert failure is None
