"""A request sent over a raw socket while its answer is awaited, for tests of what the service
does *before* it has read a body: the answer may come while the body is still being sent."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

CHUNK = 64 * 1024


@dataclass
class RawAnswer:
    """The status and headers of the answer, and how much of the body had been sent by then."""

    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    sent_when_answered: int
    sent: dict = field(default_factory=dict)


def send_raw(
    port: int,
    path: str,
    chunks: Iterable[bytes],
    *,
    length: int | None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> RawAnswer:
    """Send the request (chunked when ``length`` is None) from a thread; read the answer here."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    head.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    sent = {"bytes": 0}

    def pump() -> None:
        try:
            for chunk in chunks:
                framed = chunk if length is not None else b"%x\r\n%s\r\n" % (len(chunk), chunk)
                sock.sendall(framed)
                sent["bytes"] += len(chunk)
            if length is None:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # closed by the service after it answered

    started = time.perf_counter()
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    sender = threading.Thread(target=pump, daemon=True)
    sender.start()
    answer = b""
    while b"\r\n\r\n" not in answer:
        part = sock.recv(65536)
        if not part:
            break
        answer += part
    seconds = time.perf_counter() - started
    sent_when_answered = sent["bytes"]
    head_bytes, _, rest = answer.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    found = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    found = {name.lower(): value for name, value in found.items()}
    want = int(found.get("content-length", "0"))
    while len(rest) < want:
        part = sock.recv(65536)
        if not part:
            break
        rest += part
    sock.close()
    sender.join(timeout=30)
    status = int(lines[0].split(" ")[1]) if lines and lines[0] else 0
    return RawAnswer(status, found, rest, seconds, sent_when_answered, sent)


def repeated(piece: bytes, total: int) -> Iterable[bytes]:
    """``total`` bytes made of ``piece`` repeated, in chunks, never held whole."""
    block = piece * max(1, CHUNK // len(piece))
    left = total
    while left > 0:
        chunk = block[:left]
        left -= len(chunk)
        yield chunk
