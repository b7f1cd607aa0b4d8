"""An HTTP/3 POST for a virtual app's `quic://` send (Java 17 has no QUIC client): the
app's JVM starts `python -m harness.virtual.quic_send --connect ADDR:PORT --url URL` in its
own network namespace, the body on stdin; prints the response status. The certificate is
not verified (a firmware daemon that does not check), so an intercepting proxy reads it.
Exit 0 with the status, 1 with the error on one line.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
from urllib.parse import urlsplit

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import QuicEvent

TIMEOUT = 3.0  # through the tunnel an upload takes well under a second


class _H3(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - aioquic's signature
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.status = 0

    def quic_event_received(self, event: QuicEvent) -> None:
        for ev in self.h3.handle_event(event):
            if isinstance(ev, HeadersReceived):
                self.status = int(dict(ev.headers).get(b":status", b"0"))
            if isinstance(ev, (HeadersReceived, DataReceived)) and ev.stream_ended and not self.done.done():
                self.done.set_result(self.status)

    def post(self, url: str, body: bytes, user_agent: str | None) -> None:
        parts = urlsplit(url)
        stream = self._quic.get_next_available_stream_id()
        headers = [(b":method", b"POST"), (b":scheme", b"https"), (b":authority", parts.netloc.encode()),
                   (b":path", (parts.path or "/").encode()), (b"content-length", str(len(body)).encode())]
        if user_agent:
            headers.append((b"user-agent", user_agent.encode()))
        self.h3.send_headers(stream, headers)
        self.h3.send_data(stream, body, end_stream=True)
        self.transmit()


async def post(connect_to: str, url: str, body: bytes, user_agent: str | None) -> int:
    host, _, port = connect_to.rpartition(":")
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE,
                               server_name=urlsplit(url).hostname)
    async with connect(host.strip("[]"), int(port), configuration=config, create_protocol=_H3,
                       wait_connected=True) as client:
        assert isinstance(client, _H3)
        client.post(url, body, user_agent)
        return await asyncio.wait_for(client.done, TIMEOUT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="quic_send")
    parser.add_argument("--connect", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--user-agent")
    args = parser.parse_args(argv)
    body = sys.stdin.buffer.read()
    try:
        status = asyncio.run(asyncio.wait_for(post(args.connect, args.url, body, args.user_agent), TIMEOUT))
    except (OSError, ValueError) as e:  # TimeoutError and ConnectionError are OSErrors
        print(f"{type(e).__name__}: {e}".splitlines()[0] if str(e) else type(e).__name__)
        return 1
    print(status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
