"""The /policy page in headless Chromium against a production-mode service (API keys on): it
asks for the analyst's key, keeps it in this tab's session storage only, and never puts it in
an address."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import opened_page
from tests.browser.test_policy_page import wait_priced

pytestmark = pytest.mark.slow

STORED = "sessionStorage.getItem('ptb.apiKey')"


def test_the_page_asks_for_a_key_and_prices_with_it(browser, production_policy_service):
    url, key = production_policy_service
    requests: list = []
    with opened_page(browser, url) as page:
        page.on("request", lambda request: requests.append(request))
        page.goto("/policy")
        page.wait_for_selector("#api-key-form:not([hidden])", timeout=30_000)
        assert "API key with role policy" in page.inner_text("#status")
        assert page.evaluate(STORED) is None

        page.fill("#api-key", "ptb.analyst.not-the-secret-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        page.click("#api-key-form button[type=submit]")
        page.wait_for_function(
            "() => document.getElementById('api-key-message').textContent.includes('not valid')",
            timeout=30_000,
        )
        assert page.evaluate(STORED) is None  # a refused key is not kept
        assert page.is_visible("#api-key-form")

        page.fill("#api-key", key)
        page.click("#api-key-form button[type=submit]")
        wait_priced(page, {})
        assert page.is_hidden("#api-key-form")
        assert page.evaluate(STORED) == key
        assert "analyst" in page.inner_text("#key-state")
        assert page.input_value("#api-key") == ""  # the field does not keep it either

        page.fill("#refugee_rate_nok", "4000")
        wait_priced(page, {"refugee_rate_nok": 4000})
        assert page.get_attribute("#status", "data-state") == "ok"

        page.reload()  # the same tab keeps its key for the session
        wait_priced(page, {"refugee_rate_nok": 4000})
        assert key not in page.url

        priced = [r for r in requests if r.url.split("?")[0].endswith("/v1/whatif")]
        assert priced and all(
            r.headers.get("authorization") == f"Bearer {key}" for r in priced[-2:]
        )
        assert not any(key in r.url for r in requests)
        secret = key.split(".")[2]
        assert not any(secret in r.url for r in requests)

    with opened_page(browser, url) as fresh:  # a new session: asked again
        fresh.goto("/policy")
        fresh.wait_for_selector("#api-key-form:not([hidden])", timeout=30_000)
        assert fresh.evaluate(STORED) is None


def test_forgetting_the_key_stops_pricing(browser, production_policy_service):
    url, key = production_policy_service
    with opened_page(browser, url) as page:
        page.goto("/policy")
        page.wait_for_selector("#api-key-form:not([hidden])", timeout=30_000)
        page.fill("#api-key", key)
        page.click("#api-key-form button[type=submit]")
        wait_priced(page, {})
        page.click("#forget-key")
        assert page.evaluate(STORED) is None
        page.wait_for_selector("#api-key-form:not([hidden])", timeout=10_000)
        page.fill("#dampening", "0.5")
        page.dispatch_event("#dampening", "input")
        page.wait_for_timeout(600)
        assert json.loads(page.evaluate("document.body.dataset.scenario || '{}'")) == {}
