"""A Python websockets server for the zws client tests.

    /usr/bin/python3 py_server.py PORT [--tls CERT KEY]

The same paths and behaviour as ws_server.js (see there); every close is
logged as a line "close PATH CODE REASON". permessage-deflate is accepted
with websockets' defaults (windows of 12 bits, context takeover unless the
client asks otherwise). --tls: wss:// with that certificate chain and key.
"""
import asyncio
import http
import signal
import ssl
import sys

import websockets
import websockets.legacy.server

PORT = int(sys.argv[1])
PATHS = {"/echo", "/report", "/limit", "/close-first", "/echo-client", "/ping", "/wire"}
closes = {}


class CountingProtocol(websockets.legacy.server.WebSocketServerProtocol):
    """Counts the bytes read from and written to the connection (for /wire)."""

    bytes_read = 0
    bytes_written = 0

    def connection_made(self, transport):
        write = transport.write

        def counted(data):
            self.bytes_written += len(data)
            write(data)

        transport.write = counted
        super().connection_made(transport)

    def data_received(self, data):
        self.bytes_read += len(data)
        super().data_received(data)


async def refuse(path, headers):
    p = path.split("?")[0]
    if p == "/refuse":
        return http.HTTPStatus.FORBIDDEN, [], b"refused\n"
    if p not in PATHS:
        return http.HTTPStatus.NOT_FOUND, [], b"not a websocket path\n"
    return None


async def echo(ws, p, state):
    if p == "/limit":
        ws.max_size = 1024
    async for msg in ws:
        if "id" not in state and isinstance(msg, str) and msg.startswith("id:"):
            state["id"] = msg[3:]
        await ws.send(msg)


async def echo_client(ws):
    sent = ["hello", "你好 🌍", bytes([0, 1, 2, 255])]
    for m in sent:
        await ws.send(m)
    got = [await asyncio.wait_for(ws.recv(), 10) for _ in sent]
    bad = [i for i, (a, b) in enumerate(zip(sent, got)) if type(a) is not type(b) or a != b]
    await ws.close(*((1000, "echo ok") if not bad else (4003, f"message {bad[0]} differs")))


async def ping(ws):
    waiter = await ws.ping(b"are you there?")
    try:
        await asyncio.wait_for(waiter, 10)
        await ws.close(1000, "pong ok")
    except asyncio.TimeoutError:
        await ws.close(4004, "no pong")


async def wire(ws):
    """ws_server.js's /wire: the extensions answer, then each echo followed by
    "wire R W" (bytes read for the message, written for its echo)."""
    await ws.send("ext " + ws.response_headers.get("Sec-WebSocket-Extensions", ""))
    read, written = ws.bytes_read, ws.bytes_written
    async for msg in ws:
        r = ws.bytes_read - read
        read = ws.bytes_read
        await ws.send(msg)
        w = ws.bytes_written - written
        await ws.send(f"wire {r} {w}")
        written = ws.bytes_written


async def handler(ws, path):
    p = path.split("?")[0]
    state = {}
    try:
        if p in ("/echo", "/limit"):
            await echo(ws, p, state)
        elif p == "/report":
            async for msg in ws:
                await ws.send(closes.get(msg[3:], "none"))
        elif p == "/close-first":
            await ws.close(4002, "server bye ✓")
        elif p == "/echo-client":
            await echo_client(ws)
        elif p == "/ping":
            await ping(ws)
        elif p == "/wire":
            await wire(ws)
    except websockets.ConnectionClosed:
        pass
    finally:
        await ws.wait_closed()
        print(f"close {p} {ws.close_code} {ws.close_reason}", flush=True)
        if "id" in state:
            closes[state["id"]] = f"{ws.close_code} {ws.close_reason}"


async def main():
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    tls = None
    if "--tls" in sys.argv:
        cert, key = sys.argv[sys.argv.index("--tls") + 1:][:2]
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
    async with websockets.serve(handler, "127.0.0.1", PORT, max_size=64 << 20, ssl=tls,
                                create_protocol=CountingProtocol,
                                ping_interval=None, close_timeout=5, process_request=refuse):
        print(f"listening {PORT}", flush=True)
        await stop


asyncio.run(main())
