#!/usr/bin/env python3
"""A Python `websockets` client for scripts/interop.sh: runs the interop cases against our
servers and prints `PASS case: detail` or `FAIL case: why` for each.

Usage: py_client.py ECHO_URL COMMAND_URL
  ECHO_URL     the echo_server example (data cases)
  COMMAND_URL  the interop_server example (closes, pings, fragments, subprotocols, refusal),
               or `-` for a plain echo server: then only the data cases run (and deflate
               is checked on the client's side only)
With INTEROP_DEFLATE=1 the client offers permessage-deflate (the servers are built with the
`deflate` feature) and checks that it was negotiated; otherwise it offers nothing.
Exit status 1 when a case failed.
"""

import asyncio
import os
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

ECHO, CMD = sys.argv[1], sys.argv[2]
DEFLATE = os.environ.get("INTEROP_DEFLATE") == "1"
FRAGMENTED = "fragmented ✓ "


def pattern(n):
    return bytes(i % 251 for i in range(256)) * (n // 256) + bytes(i % 251 for i in range(n % 256))


def open_ws(url, **kwargs):
    compression = "deflate" if DEFLATE else None
    return connect(url, max_size=None, ping_interval=None, compression=compression, **kwargs)


async def echo(message, url=ECHO):
    async with open_ws(url) as ws:
        await ws.send(message)
        reply = await ws.recv()
        assert reply == message, "the echo differs from what was sent"


async def text():
    await echo("Hello, wörld ✓ 🚀")
    return "echoed intact"


async def binary():
    await echo(pattern(1000))
    return "echoed intact"


async def empty():
    await echo("")
    await echo(b"")
    return "empty text and empty binary echoed"


async def big(n):
    started = time.monotonic()
    await echo(pattern(n))
    return f"{n} bytes echoed intact in {time.monotonic() - started:.2f} s"


async def fragmented_send():
    async with open_ws(ECHO) as ws:
        parts = ["αβγ ✓ ", "fragment ", "by ", "fragment"] * 50
        await ws.send(parts)
        assert await ws.recv() == "".join(parts), "text echo differs"
        chunks = [pattern(1000)] * 5
        await ws.send(chunks)
        assert await ws.recv() == b"".join(chunks), "binary echo differs"
    return f"{len(parts)} text and 5 binary fragments echoed as whole messages"


async def fragmented_receive():
    async with open_ws(CMD) as ws:
        await ws.send("!frag")
        assert await ws.recv() == FRAGMENTED * 1000, "reassembled text differs"
    return "14000 B text in 4 KiB fragments reassembled"


async def we_ping():
    async with open_ws(CMD) as ws:
        pong = await ws.ping(b"python ping")
        latency = await pong
    return f"pong with our payload after {latency * 1000:.2f} ms"


async def peer_pings():
    async with open_ws(CMD) as ws:
        await ws.send("!ping are you there")
        assert await ws.recv() == "pong:are you there"
    return "the peer saw our automatic pong with its payload"


async def we_close():
    async with open_ws(CMD) as ws:
        await ws.close(4001, "bye from python")
        assert ws.close_code == 4001, f"the peer echoed {ws.close_code}"
    async with open_ws(CMD) as ws:
        await ws.send("!lastclose")
        got = await ws.recv()
        assert got == "4001 bye from python", f"the peer recorded {got!r}"
    return 'the peer received 4001 "bye from python" and echoed the code'


async def peer_closes():
    async with open_ws(CMD) as ws:
        await ws.send("!close 4002 bye from rfc6455")
        try:
            await ws.recv()
        except ConnectionClosed as e:  # ConnectionClosedOK is for 1000 and 1001 only
            assert (e.rcvd.code, e.rcvd.reason) == (4002, "bye from rfc6455"), str(e.rcvd)
            assert e.sent is not None and e.rcvd_then_sent, "no close handshake"
            return f"received {e.rcvd.code} {e.rcvd.reason!r}, close handshake completed"
        raise AssertionError("a message instead of the close")


async def subprotocol():
    for offer, expected in ((["superchat", "chat"], "superchat"), (["chat"], "chat"), (["mqtt"], None)):
        async with open_ws(CMD, subprotocols=offer) as ws:
            assert ws.subprotocol == expected, f"offered {offer}, got {ws.subprotocol}"
            await ws.send("!protocol")
            assert await ws.recv() == (expected or "none"), "the peer disagrees"
    return "superchat,chat -> superchat; chat -> chat; mqtt -> none"


async def rejected():
    try:
        async with open_ws(CMD.rstrip("/") + "/reject"):
            pass
    except InvalidStatus as e:
        assert e.response.status_code == 403, str(e)
        return f"InvalidStatus: {e}"
    raise AssertionError("the handshake succeeded")


async def deflate():
    async with open_ws(ECHO if CMD == "-" else CMD) as ws:
        names = [e.name for e in ws.protocol.extensions]
        assert names == ["permessage-deflate"], f"negotiated {names}"
        if CMD != "-":
            await ws.send("!extensions")
            assert await ws.recv() == "permessage-deflate", "the peer disagrees"
        text = "compressible " * 80000
        await ws.send(text)
        assert await ws.recv() == text, "echo differs"
    return f"negotiated ({ws.response.headers['Sec-WebSocket-Extensions']}); {len(text)} B echoed"


CASES = [
    ("text", text),
    ("binary", binary),
    ("empty messages (0 B)", empty),
    ("64 KiB", lambda: big(64 << 10)),
    ("16 MiB", lambda: big(16 << 20)),
    ("fragmented, sent", fragmented_send),
    ("fragmented, received", fragmented_receive),
    ("ping/pong, we ping", we_ping),
    ("ping/pong, peer pings", peer_pings),
    ("close code+reason, we close", we_close),
    ("close code+reason, peer closes", peer_closes),
    ("subprotocol negotiation", subprotocol),
    ("rejected handshake (403)", rejected),
]


# The cases that need only an echo server.
DATA_CASES = 6


async def main():
    if CMD == "-":
        del CASES[DATA_CASES:]
    if DEFLATE:
        CASES.append(("permessage-deflate", deflate))
    failed = False
    for name, run in CASES:
        try:
            detail = await asyncio.wait_for(run(), 60)
            print(f"PASS {name}: {detail}", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported the same way
            failed = True
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
