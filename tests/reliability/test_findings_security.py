"""Issue 14: redaction covers every URL form redis-py and kombu accept (before: userinfo only)."""

from __future__ import annotations

import pytest

from queue2celery.errors import redact_text, redact_url, secrets_in

pytestmark = pytest.mark.reliability

SECRET = "s3cret"

URLS = {
    "userinfo": f"redis://:{SECRET}@h:6379/0",
    "user and password": f"redis://app:{SECRET}@h:6379/0",
    "rediss": f"rediss://:{SECRET}@h:6380/0?ssl_cert_reqs=required",
    "query password": f"redis://h:6379/0?password={SECRET}",
    "query password after others": f"redis://h:6379/0?db=1&password={SECRET}&x=1",
    "sentinel query password": f"sentinel://h:26379?sentinel_password={SECRET}",
    "unix socket": f"unix:///run/redis.sock?db=0&password={SECRET}",
    "failover": f"redis://:{SECRET}@h1:6379/0;redis://:{SECRET}x@h2:6379/0",
    "sentinel list": f"sentinel://:{SECRET}@h1:26379;sentinel://:{SECRET}@h2:26379",
    "url-encoded": "redis://:s3cret%40x@h:6379/0",
    "raw slash in password": f"redis://:{SECRET}/x@h:6379/0",
}


@pytest.mark.parametrize("form", sorted(URLS))
def test_redact_url_hides_the_password_in_every_form(form: str) -> None:
    url = URLS[form]
    shown = redact_url(url)
    assert SECRET not in shown and "***" in shown, shown
    # The hosts stay readable: the point of showing the URL.
    for host in ("h:", "h1:", "h2:", "/run/redis.sock"):
        if host in url:
            assert host in shown


def test_a_url_without_a_password_is_shown_as_is() -> None:
    for url in ("redis://localhost:6379/0", "rediss://h:6380/1?ssl_cert_reqs=none", "memory://"):
        assert redact_url(url) == url
    assert redact_url(["redis://:a1@h1/0", "redis://:b2@h2/0"]) == (
        "redis://:***@h1/0;redis://:***@h2/0"
    )


def test_text_loses_every_password_of_the_urls_and_the_transport_options() -> None:
    options = {"master_name": "mymaster", "sentinel_kwargs": {"password": "sk-secret"}}
    url = f"sentinel://:{SECRET}@h1:26379;sentinel://:other-pw@h2:26379"
    text = f"AuthenticationError: {SECRET} rejected; tried other-pw and sk-secret on h1"
    cleaned = redact_text(text, url, options)
    assert all(s not in cleaned for s in (SECRET, "other-pw", "sk-secret")), cleaned
    assert "h1" in cleaned
    assert set(secrets_in(url, options)) >= {SECRET, "other-pw", "sk-secret"}
