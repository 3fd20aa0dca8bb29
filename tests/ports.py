"""A loopback port for a test's server: bound to port 0 (the kernel picks a free one), then released."""

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
