"""The deployment kit end to end: nginx (TLS, the shipped site) started first, then the payment
and policy instances from their shipped units, under a non-root account; a person grant, a
what-if and the /policy page in Chromium, all through nginx.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.deploy.conftest import Deployment
from tests.deploy.kit import DEPLOY, ROOT, Unit, env_file, replaced
from tests.processes import free_port, wait_until_ready
from tests.serving.conftest import person_body

pytestmark = pytest.mark.slow
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: .ci/setup-nginx.sh installs it)")
    pytest.skip(reason)


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, valid for two days."""
    folder.mkdir(parents=True, exist_ok=True)
    crt, key = folder / "ptb.crt", folder / "ptb.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(crt),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    key.chmod(0o600)
    return crt, key


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def nginx(site: str, folder: Path, port: int) -> Iterator[None]:
    """Debian's nginx in the foreground on the given site, with its files in ``folder``."""
    if not os.access(NGINX, os.X_OK):
        unavailable("nginx is not installed (Debian's nginx-light)")
    (folder / "tmp").mkdir(parents=True)
    (folder / "ptb.conf").write_text(site)
    temp = " ".join(
        f"{kind}_temp_path {folder / 'tmp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (folder / "nginx.conf").write_text(
        f"pid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} info;\n"
        "worker_processes 1;\nevents { worker_connections 256; }\n"
        f"http {{\n include /etc/nginx/mime.types;\n access_log {folder / 'access.log'};\n"
        f" {temp}\n include {folder / 'ptb.conf'};\n}}\n"
    )
    command = [NGINX, "-e", str(folder / "error.log"), "-c", str(folder / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([*command, "-g", "daemon off;"])
    try:
        deadline = time.monotonic() + 20
        while not listening(port):
            assert process.poll() is None, (folder / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
        yield
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def instance_process(deployment: Deployment, unit: Unit, port: int, log: Path):
    """The unit's ExecStart with its environment, as its account, started in ``/``."""
    mlflow_url = deployment.mlflow.url

    def here(value: str) -> str:
        for prefix in ("/etc/ptb/", "/srv/ptb/", "/var/lib/ptb/", "/var/cache/ptb/", "/run/"):
            if value.startswith(prefix):
                return str(deployment.path(value))
        return value.replace("http://127.0.0.1:5000", mlflow_url)

    settings = env_file(DEPLOY / "env/ptb.env") | unit.environment
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),  # the code under test, wherever this checkout is
        "LANG": "C.UTF-8",
        **{key: here(value) for key, value in settings.items()},
    }
    command = unit.command
    assert command[0] == "/opt/ptb/bin/ptb"
    command = [str(Path(sys.executable).parent / "ptb"), *command[1:]]
    command[command.index("--port") + 1] = str(port)
    as_account: dict = {}
    if os.geteuid() == 0 and deployment.account != "root":
        as_account = {"user": deployment.account, "group": deployment.account, "extra_groups": []}
    with log.open("w") as output:
        return subprocess.Popen(
            command,
            cwd="/",
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **as_account,
        )


@contextmanager
def stopped_at_exit(process: subprocess.Popen) -> Iterator[subprocess.Popen]:
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def behind_nginx(deployment: Deployment) -> Iterator[dict]:
    """nginx first (its upstreams still down), then both instances; the https base and CA."""
    folder = deployment.root / "nginx"
    crt, key = certificate(deployment.root / "etc/ptb/tls")
    ports = {"payment": free_port(), "policy": free_port()}
    https, http = free_port(), free_port()
    site = replaced(
        (DEPLOY / "nginx/ptb.conf").read_text(),
        {
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{ports['payment']};",
            "server 127.0.0.1:8001;": f"server 127.0.0.1:{ports['policy']};",
            "listen 80;": f"listen 127.0.0.1:{http};",
            "listen 443 ssl http2;": f"listen 127.0.0.1:{https} ssl http2;",
            "/etc/ptb/tls/ptb.crt": str(crt),
            "/etc/ptb/tls/ptb.key": str(key),
        },
        where="deploy/nginx/ptb.conf",
    )
    base = f"https://127.0.0.1:{https}"
    tls = ssl.create_default_context(cafile=str(crt))
    with ExitStack() as stack:
        stack.enter_context(nginx(site, folder, https))
        down = httpx.post(f"{base}/v1/grants/person", json={}, verify=tls, timeout=10)
        assert down.status_code == 502  # nginx is up before the instances
        for apis, port in ports.items():
            log = deployment.root / f"{apis}.log"
            process = stack.enter_context(
                stopped_at_exit(
                    instance_process(deployment, Unit.read(f"ptb-{apis}.service"), port, log)
                )
            )
            wait_until_ready(
                f"http://127.0.0.1:{port}",
                alive=lambda process=process: process.poll() is None,
                why_not=lambda log=log: log.read_text()[-4000:],
            )
        yield {
            "base": base,
            "tls": tls,
            "http": f"http://127.0.0.1:{http}",
            "ports": ports,
            "logs": deployment.root,
        }


def bearer(deployment: Deployment, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {deployment.keys[role]}"}


def test_person_grant_and_whatif_through_nginx_over_tls(behind_nginx, deployment):
    base, tls = behind_nginx["base"], behind_nginx["tls"]
    with httpx.Client(base_url=base, verify=tls, timeout=60) as client:
        grant = client.post(
            "/v1/grants/person",
            json=person_body(deployment.dataset, 0),
            headers=bearer(deployment, "payment"),
        )
        assert grant.status_code == 200, grant.text
        assert grant.json()["model_version"] == "1" and grant.json()["grant_nok"] > 0
        assert (
            client.post("/v1/grants/person", json=person_body(deployment.dataset, 0)).status_code
            == 401
        )
        whatif = client.post(
            "/v1/whatif", json={"dampening": 0.5}, headers=bearer(deployment, "policy")
        )
        assert whatif.status_code == 200, whatif.text
        assert whatif.json()["winners"] + whatif.json()["losers"] > 0
        # A payment key may not run what-if, wherever the request lands.
        assert (
            client.post("/v1/whatif", json={}, headers=bearer(deployment, "payment")).status_code
            == 403
        )
        # Probes, metrics and admin stay on the loopback; plain HTTP is sent to HTTPS.
        for path in ("/readyz", "/metrics", "/v1/admin/reload"):
            assert client.get(path).status_code == 404
    redirect = httpx.get(f"{behind_nginx['http']}/policy", follow_redirects=False)
    assert redirect.status_code == 301 and redirect.headers["location"].startswith("https://")
    # Each request reached the instance the site routes it to.
    payment_log = (behind_nginx["logs"] / "payment.log").read_text()
    policy_log = (behind_nginx["logs"] / "policy.log").read_text()
    assert "/v1/grants/person" in payment_log and "/v1/grants/person" not in policy_log
    assert "/v1/whatif" in policy_log and "/v1/whatif" not in payment_log


def test_policy_page_in_chromium_through_nginx(behind_nginx, deployment, tmp_path):
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.browser.test_policy_page import wait_priced

    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"chromium not found at {CHROMIUM}: run .ci/setup-browser.sh")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright for Python is not installed")
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # The self-signed test certificate; the policy key as a corporate proxy would add it.
            context = browser.new_context(
                base_url=behind_nginx["base"],
                ignore_https_errors=True,
                extra_http_headers=bearer(deployment, "policy"),
            )
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            statics: list[int] = []
            page.on("response", lambda r: statics.append(r.status) if "/static/" in r.url else None)
            page.goto("/policy")
            wait_priced(page, {})  # the page's script (from /static) priced the baseline
            assert page.get_attribute("#status", "data-state") == "ok"
            page.locator("#dampening").focus()
            for _ in range(10):
                page.keyboard.press("ArrowRight")
            wait_priced(page, {"dampening": 0.5})
            assert page.inner_text("#winners") != "0"
            assert statics and all(status == 200 for status in statics)
            page.screenshot(path=str(tmp_path / "policy-behind-nginx.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
