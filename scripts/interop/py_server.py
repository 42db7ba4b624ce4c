#!/usr/bin/env python3
"""A Python `websockets` server for scripts/interop.sh: echoes, and obeys the commands of the
interop_server example (see examples/interop_server.rs), so examples/interop_client.rs can run
the same cases against it.

Usage: py_server.py PORT   (listens on 127.0.0.1)
"""

import asyncio
import sys
from http import HTTPStatus

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

SUPPORTED = ("chat", "superchat")
FRAGMENTED = "fragmented ✓ "
last_close = ""


def select_subprotocol(connection, offered):
    # The first protocol in the client's order of preference that we speak (websockets'
    # default takes the server's order and refuses clients that offer none).
    return next((p for p in offered if p in SUPPORTED), None)


def process_request(connection, request):
    if request.path == "/reject":
        return connection.respond(HTTPStatus.FORBIDDEN, "rejected by py_server\n")
    return None


async def handler(ws):
    global last_close
    try:
        async for message in ws:
            command, _, arg = message.partition(" ") if isinstance(message, str) else ("", "", "")
            if command == "!close":
                code, _, reason = arg.partition(" ")
                await ws.close(int(code), reason)
            elif command == "!ping":
                pong = await ws.ping(arg.encode())
                await pong
                await ws.send("pong:" + arg)
            elif command == "!frag":
                text = FRAGMENTED * 1000
                await ws.send([text[i : i + 4096] for i in range(0, len(text), 4096)])
            elif command == "!protocol":
                await ws.send(ws.subprotocol or "none")
            elif command == "!extensions":
                names = [e.name for e in ws.protocol.extensions]
                await ws.send("permessage-deflate" if "permessage-deflate" in names else "none")
            elif command == "!lastclose":
                await ws.send(last_close)
            else:
                await ws.send(message)
    except ConnectionClosed:
        pass  # a close code other than 1000 or 1001 ends `async for` with an exception
    finally:
        received = ws.protocol.close_rcvd
        if received is not None and received.code != 1000:
            last_close = f"{received.code} {received.reason}"


async def main(port):
    async with serve(
        handler,
        "127.0.0.1",
        port,
        max_size=None,
        select_subprotocol=select_subprotocol,
        process_request=process_request,
        ping_interval=None,
    ) as server:
        print(f"py_server: listening on ws://127.0.0.1:{port}/", file=sys.stderr, flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
