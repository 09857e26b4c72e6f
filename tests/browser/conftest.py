"""Browser fixtures: the real service under uvicorn on 127.0.0.1 and headless Debian Chromium.

Chromium comes from Debian (``.ci/setup-browser.sh``), driven by Playwright for Python with
``executable_path``; Playwright's own browser download is never used. Without Chromium or
Playwright the tests are skipped with the reason, except under ``CI``, where they fail.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from serving.app import create_app
from serving.model_store import ModelStore
from tests.conftest import trained_registry
from tests.processes import free_port, wait_until_ready

CHROMIUM = os.environ.get("PTB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PERSONS = 100_000  # about 100 lists: enough for a histogram worth looking at
SEED = 2028


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail under CI, where the browser must be installed."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser():
    """Headless Debian Chromium driven by Playwright, for the browser tests.

    Package scope, not session: Playwright's sync API keeps an asyncio loop running in the main
    thread while it is open, and later tests that run a loop of their own (or Playwright again)
    would find it there."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"chromium not found at {CHROMIUM}: run .ci/setup-browser.sh")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``PTB_SCREENSHOT_DIR``, or a temporary folder."""
    configured = os.environ.get("PTB_SCREENSHOT_DIR")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def policy_registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A trained registry and the snapshot on disk: its tracking URI and data directory."""
    return trained_registry(tmp_path_factory.mktemp("policy-service"), PERSONS, SEED)


@contextmanager
def serving_in_thread(app) -> Iterator[str]:
    """``app`` under uvicorn on 127.0.0.1 in a thread until the block ends; its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="ptb-policy-uvicorn", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, alive=thread.is_alive)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def policy_service(policy_registry: tuple[str, Path]) -> Iterator[str]:
    """The service with a trained registry and a snapshot on disk, under uvicorn in a thread."""
    uri, data_dir = policy_registry
    with serving_in_thread(create_app(ModelStore(uri), snapshot=data_dir)) as url:
        yield url


@pytest.fixture(scope="session")
def production_policy_service(
    policy_registry: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """The same service as production runs it (keys on, keyed audit log); URL and a policy key."""
    from serving.access import KeyRing, add_key
    from serving.access.audit import AuditLog, read_request_key, write_request_key

    uri, data_dir = policy_registry
    root = tmp_path_factory.mktemp("policy-production")
    key = add_key(root / "keys.json", "analyst", "policy")
    audit_key = read_request_key(write_request_key(root / "audit.key"))
    app = create_app(
        ModelStore(uri),
        snapshot=data_dir,
        api_keys=KeyRing.load(root / "keys.json"),
        environment="production",
        audit=AuditLog(root / "audit.jsonl", request_key=audit_key),
    )
    with serving_in_thread(app) as url:
        yield url, key


@contextmanager
def opened_page(browser, base_url: str, width: int = 1440, height: int = 1000) -> Iterator:
    """A fresh page (a new browser session) at a size, desktop by default; fails the test on
    any script error."""
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=base_url)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"script errors on the page: {errors}"


@pytest.fixture
def page(browser, policy_service: str):
    """A fresh page at desktop size; fails the test on any script error."""
    with opened_page(browser, policy_service, 1440, 1000) as opened:
        yield opened


WIDTHS = {"phone": (390, 844), "desktop": (1440, 1000)}


@pytest.fixture(params=list(WIDTHS))
def sized_page(request, browser, policy_service: str):
    """The page at a phone's and at a desktop's width; fails the test on any script error."""
    with opened_page(browser, policy_service, *WIDTHS[request.param]) as opened:
        yield opened
