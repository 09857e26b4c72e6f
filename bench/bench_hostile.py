"""Benchmark: hostile bodies against the real service, its memory sampled while it refuses them.

Run by hand::

    .venv/bin/python bench/bench_hostile.py [--persons 50000] [--repeat 3]

Starts ``uvicorn serving.worker:create_app_from_env --factory`` (one worker, production mode:
API keys, keyed audit log) on a small synthetic snapshot, then sends, over a raw socket so the
answer is timed as soon as its status line arrives, while the body is still being sent:

- ``POST /v1/admin/reload`` without a key and a 300 MB JSON body (with ``Content-Length``, and
  again chunked, with no length announced);
- ``POST /v1/grants/list`` with a payment key and a list of 1,000,000 persons (about 110 MB),
  with ``Content-Length`` and chunked.

For each it prints the status, the time from the first byte sent to the status line, and how
much the service's resident memory (VmRSS, sampled every 2 ms) grew above its level before.
Targets: refused in under 100 ms, memory growth under 50 MB.

Then a flood of wrong keys: 200 guesses for a known key id, 80 at a time, while a payment
system sends person requests with its (verified) key; it prints the answers to the guesses and
the latency of the valid requests during the flood.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import free_port, registry, service, service_env, uvicorn_command  # noqa: E402
from bench_scoring import national_data  # noqa: E402

MB = 1024 * 1024
CHUNK = 256 * 1024
PERSON = b'{"age":44,"sex":"F","grunnkrets":"03010101","copayment_prev_year":1234.5,"refugee_first_year":false},'


def reload_body(size: int) -> Iterator[bytes]:
    """A JSON object whose one string fills ``size`` bytes."""
    yield b'{"model":"'
    sent = 10
    filler = b"a" * CHUNK
    while sent + CHUNK < size - 2:
        yield filler
        sent += CHUNK
    yield b"a" * (size - 2 - sent) + b'"}'


def list_body(persons: int) -> Iterator[bytes]:
    """A list of ``persons`` persons, in chunks of about ``CHUNK`` bytes."""
    yield b'{"practice_kommune":"0301","persons":['
    per_chunk = CHUNK // len(PERSON)
    left = persons
    while left > 0:
        n = min(per_chunk, left)
        chunk = PERSON * n
        left -= n
        yield chunk[:-1] + b"]}" if left == 0 else chunk


def body_size(chunks: Iterator[bytes]) -> int:
    return sum(len(chunk) for chunk in chunks)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class MemoryWatch:
    """Peak VmRSS of a process while the block runs, sampled every 2 ms."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def __enter__(self) -> MemoryWatch:
        self.before = rss_kib(self.pid)
        self.peak = self.before
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.002)

    def __exit__(self, *exc) -> None:
        time.sleep(0.2)  # anything still arriving after the answer shows in the peak too
        self.stop.set()
        self.thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.before) / 1024


def send(port: int, path: str, headers: dict[str, str], chunks, size: int | None):
    """Send the request (chunked when ``size`` is None); the status and seconds to it."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append(f"Content-Length: {size}" if size is not None else "Transfer-Encoding: chunked")
    sent = {"bytes": 0}

    def pump() -> None:
        try:
            for chunk in chunks:
                data = chunk if size is not None else b"%x\r\n%s\r\n" % (len(chunk), chunk)
                sock.sendall(data)
                sent["bytes"] += len(chunk)
            if size is None:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the service closed the connection after answering: expected

    started = time.perf_counter()
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    sender = threading.Thread(target=pump, daemon=True)
    sender.start()
    answer = b""
    while b"\r\n" not in answer:
        part = sock.recv(4096)
        if not part:
            break
        answer += part
    seconds = time.perf_counter() - started
    sock.close()
    sender.join(timeout=30)
    status = int(answer.split(b" ", 2)[1]) if answer else 0
    return status, seconds, sent["bytes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=50_000, help="persons in the snapshot")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "ptb-bench")
    args = parser.parse_args()

    from serving.access import add_key
    from serving.access.audit import write_request_key

    data, _ = national_data(args.persons, 2026, args.cache)
    uri, versions = registry(data, data.parent / "registry")
    work = Path(tempfile.mkdtemp(prefix="ptb-hostile-"))
    key = add_key(work / "api-keys.json", "settlement", "payment")
    env = service_env(
        PTB_TRACKING_URI=uri,
        PTB_MODEL=versions["challenger"],
        PTB_MODEL_CACHE_DIR=str(work / "cache"),
        PTB_DATA_DIR=str(data),
        PTB_ENVIRONMENT="production",
        PTB_API_KEYS_FILE=str(work / "api-keys.json"),
        PTB_AUDIT_LOG=str(work / "audit.jsonl"),
        PTB_AUDIT_KEY_FILE=str(write_request_key(work / "audit.key")),
    )
    port = free_port()
    command = uvicorn_command("serving.worker:create_app_from_env", port)
    payment = {"Authorization": f"Bearer {key}"}
    cases = [
        ("reload, no key, 300 MB, Content-Length", "/v1/admin/reload", {}, "reload", True),
        ("reload, no key, 300 MB, chunked", "/v1/admin/reload", {}, "reload", False),
        (
            "list, payment key, 1,000,000 persons, Content-Length",
            "/v1/grants/list",
            payment,
            "list",
            True,
        ),
        (
            "list, payment key, 1,000,000 persons, chunked",
            "/v1/grants/list",
            payment,
            "list",
            False,
        ),
    ]
    bodies = {"reload": lambda: reload_body(300 * MB), "list": lambda: list_body(1_000_000)}
    sizes = {name: body_size(make()) for name, make in bodies.items()}
    print(f"bodies: reload {sizes['reload'] / MB:.0f} MB, list {sizes['list'] / MB:.0f} MB")
    with service(command, env, f"http://127.0.0.1:{port}/readyz", work / "service.log") as proc:
        # One valid request first, so the key is checked (scrypt) once, as in steady service.
        one = b"".join(list_body(1))
        warm = send(port, "/v1/grants/list", payment, iter([one]), len(one))
        print(f"a valid one-person list first (key checked once): status {warm[0]}")
        print(f"\n{'case':<55} {'status':>6} {'ms':>8} {'RSS +MB':>8} {'MB sent':>8}")
        for label, path, headers, body, with_length in cases:
            for _ in range(args.repeat):
                with MemoryWatch(proc.pid) as memory:
                    status, seconds, sent = send(
                        port, path, headers, bodies[body](), sizes[body] if with_length else None
                    )
                print(
                    f"{label:<55} {status:>6} {seconds * 1000:>8.1f} {memory.growth_mb:>8.1f} "
                    f"{sent / MB:>8.1f}"
                )
        flood(port, payment)
    print(f"\nservice log: {work / 'service.log'}")


def flood(port: int, payment: dict[str, str]) -> None:
    """200 wrong keys for a known key id, 80 at a time, while valid requests are timed."""
    import httpx

    url = f"http://127.0.0.1:{port}"
    person = {
        "age": 44,
        "sex": "F",
        "grunnkrets": "03010101",
        "copayment_prev_year": 1234.5,
        "refugee_first_year": False,
        "practice_kommune": "0301",
    }

    def guess(n: int) -> int:
        wrong = {"Authorization": f"Bearer ptb.settlement.wrong-guess-{n:040d}"}
        return httpx.get(f"{url}/v1/model", headers=wrong, timeout=60).status_code

    latencies: list[float] = []
    with httpx.Client(base_url=url, headers=payment, timeout=60) as client:
        client.post("/v1/grants/person", json=person)  # warm
        with concurrent.futures.ThreadPoolExecutor(80) as pool:
            guesses = [pool.submit(guess, n) for n in range(200)]
            while not all(g.done() for g in guesses) or len(latencies) < 20:
                started = time.perf_counter()
                client.post("/v1/grants/person", json=person).raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)
        answers: dict[int, int] = {}
        for g in guesses:
            answers[g.result()] = answers.get(g.result(), 0) + 1
    latencies.sort()
    print(
        f"\nflood of 200 wrong keys (80 at a time): answers {answers}; valid person requests "
        f"meanwhile: {len(latencies)}, median {latencies[len(latencies) // 2]:.1f} ms, "
        f"max {latencies[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
