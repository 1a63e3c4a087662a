"""How many connections the fixed-answer upstream accepted: `GET /__bench/accepts` asked
on the upstream's own port (plain or HTTPS), never through a proxy."""

import json
import socket
import ssl


def accepts(port, tls=False):
    """The upstream's accepted-connection count, including the connection asking."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = ctx.wrap_socket(raw, server_hostname="localhost")
    with raw as s:
        s.sendall(b"GET /__bench/accepts HTTP/1.1\r\nhost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("upstream closed before answering /__bench/accepts")
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        while len(body) < length:
            body += s.recv(4096)
    return json.loads(body[:length])["accepts"]


class AcceptCounter:
    """Reads the upstream's count at marks (`mark()`), and gives the connections accepted
    between the first and each later mark, not counting the connections that asked."""

    def __init__(self, upstream):
        self.port = upstream.port
        self.tls = upstream.upstream == "tls"
        self.marks = []

    def mark(self):
        self.marks.append(accepts(self.port, self.tls))

    def since(self, i):
        """Connections accepted between mark `i` and the last one. Each reading counts
        its own asking connection, so the readings after mark `i` are taken off."""
        return self.marks[-1] - self.marks[i] - (len(self.marks) - 1 - i)


def per_10k(samples):
    """Upstream connections opened per 10,000 requests, and the reuse share
    (1 − connections/requests), over all samples of one contestant."""
    conns = sum(s["upstream_conns"] for s in samples)
    requests = sum(s["requests"] for s in samples)
    return conns / requests * 10_000, 1 - conns / requests
