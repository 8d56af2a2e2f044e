#!/usr/bin/env python3
"""aioquic client and server speaking kquic's interop protocol (interop/src/workload.rs).

On each client-initiated bidirectional stream the client sends a 16-byte header (u64 BE request
length, u64 BE response length), the request body and FIN; the server answers with the response
body, the SHA-256 of the request body it received, and FIN. Bodies are made of 32-byte blocks
SHA-256(b"kquic-interop" + stream id (u64 BE) + b"C" or b"S" + block index (u64 BE)), so each
side checks what it receives by hash. Datagrams are echoed by the server.

    interop_peer.py server --cert C --key K [--port P] [--retry] [--versions v2,v1]
                           [--chacha] [--seconds S]
    interop_peer.py client --port P --ca C [--streams M] [--up N] [--down N] [--datagrams D]
                           [--key-update] [--zero-rtt] [--version v1|v2] [--versions ...]
                           [--chacha] [--timeout S]

The server prints "listening PORT" once ready. The client prints one JSON line (its report) and
exits 0 only if every check passed.
"""

import argparse
import asyncio
import hashlib
import json
import ssl
import sys
import time

from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (
    ConnectionTerminated,
    DatagramFrameReceived,
    HandshakeCompleted,
    PingAcknowledged,
    StreamDataReceived,
    StreamReset,
)
from aioquic.quic.packet import QuicProtocolVersion
from aioquic.tls import CipherSuite

ALPN = "kquic-interop"
HEADER_LEN = 16
HASH_LEN = 32
VERSIONS = {"v1": QuicProtocolVersion.VERSION_1, "v2": QuicProtocolVersion.VERSION_2}


def pattern(stream_id: int, tag: bytes, length: int) -> bytes:
    """The first `length` body bytes of `stream_id` in the direction `tag` (b"C" or b"S")."""
    prefix = b"kquic-interop" + stream_id.to_bytes(8, "big") + tag
    sha = hashlib.sha256
    blocks = (length + 31) // 32
    out = b"".join(sha(prefix + i.to_bytes(8, "big")).digest() for i in range(blocks))
    return out[:length]


def datagram_payload(i: int) -> bytes:
    return (b"kquic-dgram-" + i.to_bytes(4, "big")).ljust(64, b".")


def parse_versions(s):
    return [VERSIONS[v] for v in s.split(",")] if s else None


def base_config(args, is_client: bool) -> QuicConfiguration:
    cfg = QuicConfiguration(
        is_client=is_client,
        alpn_protocols=[ALPN],
        max_datagram_frame_size=65536,
        max_data=64 << 20,
        max_stream_data=16 << 20,
        idle_timeout=20.0,
    )
    if args.chacha:
        cfg.cipher_suites = [CipherSuite.CHACHA20_POLY1305_SHA256]
    versions = parse_versions(args.versions)
    if versions:
        cfg.supported_versions = versions
    return cfg


# --------------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------------


class ServerStream:
    def __init__(self):
        self.header = b""
        self.req_len = None
        self.received = 0
        self.hasher = hashlib.sha256()


class ServerProtocol(QuicConnectionProtocol):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.streams = {}

    def quic_event_received(self, event):
        quic = self._quic
        if isinstance(event, StreamDataReceived):
            st = self.streams.setdefault(event.stream_id, ServerStream())
            data = event.data
            if st.req_len is None:
                need = HEADER_LEN - len(st.header)
                st.header += data[:need]
                data = data[need:]
                if len(st.header) == HEADER_LEN:
                    st.req_len = int.from_bytes(st.header[:8], "big")
                    resp_len = int.from_bytes(st.header[8:], "big")
                    body = pattern(event.stream_id, b"S", resp_len)
                    quic.send_stream_data(event.stream_id, body)
            st.received += len(data)
            st.hasher.update(data)
            if event.end_stream:
                if st.req_len is None or st.received != st.req_len:
                    print(
                        f"server: stream {event.stream_id}: bad request length",
                        file=sys.stderr,
                    )
                    quic.reset_stream(event.stream_id, 1)
                else:
                    quic.send_stream_data(event.stream_id, st.hasher.digest(), end_stream=True)
                del self.streams[event.stream_id]
        elif isinstance(event, DatagramFrameReceived):
            quic.send_datagram_frame(event.data)


class TicketStore:
    def __init__(self):
        self.tickets = {}

    def add(self, ticket):
        self.tickets[ticket.ticket] = ticket

    def pop(self, label):
        return self.tickets.pop(label, None)


async def run_server(args) -> int:
    cfg = base_config(args, is_client=False)
    cfg.load_cert_chain(args.cert, args.key)
    store = TicketStore()
    server = await serve(
        args.host,
        args.port,
        configuration=cfg,
        create_protocol=ServerProtocol,
        session_ticket_fetcher=store.pop,
        session_ticket_handler=store.add,
        retry=args.retry,
    )
    port = server._transport.get_extra_info("sockname")[1]
    print(f"listening {port}", flush=True)
    try:
        await asyncio.sleep(args.seconds)
    finally:
        server.close()
    return 0


# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------


class ClientProtocol(QuicConnectionProtocol):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.responses = {}
        self.done = {}
        self.failed = []
        self.echoed = set()
        self.handshake = None
        self.all_done = asyncio.Event()
        self.expected = 0
        self.terminated = None
        self.pings_acked = set()

    def quic_event_received(self, event):
        if isinstance(event, PingAcknowledged):
            self.pings_acked.add(event.uid)
        elif isinstance(event, StreamDataReceived):
            buf = self.responses.setdefault(event.stream_id, bytearray())
            buf += event.data
            if event.end_stream:
                self.done[event.stream_id] = bytes(self.responses.pop(event.stream_id))
                if len(self.done) >= self.expected:
                    self.all_done.set()
        elif isinstance(event, StreamReset):
            self.failed.append(f"stream {event.stream_id} reset by the server")
            self.all_done.set()
        elif isinstance(event, DatagramFrameReceived):
            if len(event.data) == 64 and event.data.startswith(b"kquic-dgram-"):
                self.echoed.add(int.from_bytes(event.data[12:16], "big"))
        elif isinstance(event, HandshakeCompleted):
            self.handshake = event
        elif isinstance(event, ConnectionTerminated):
            self.terminated = event
            self.all_done.set()


async def one_connection(args, cfg, tickets, zero_rtt: bool) -> dict:
    start = time.monotonic()
    report = {"ok": False}
    async with connect(
        args.host,
        args.port,
        configuration=cfg,
        create_protocol=ClientProtocol,
        session_ticket_handler=tickets.append,
        wait_connected=not zero_rtt,
    ) as proto:
        quic = proto._quic
        proto.expected = args.streams
        requests = {}
        for _ in range(args.streams):
            sid = quic.get_next_available_stream_id()
            header = args.up.to_bytes(8, "big") + args.down.to_bytes(8, "big")
            body = pattern(sid, b"C", args.up)
            requests[sid] = hashlib.sha256(body).digest()
            quic.send_stream_data(sid, header + body, end_stream=True)
        for i in range(args.datagrams):
            quic.send_datagram_frame(datagram_payload(i))
        proto.transmit()
        key_updates = 0
        deadline = time.monotonic() + args.timeout
        while not proto.all_done.is_set() and time.monotonic() < deadline:
            try:
                await asyncio.wait_for(proto.all_done.wait(), 0.05)
            except asyncio.TimeoutError:
                pass
            # RFC 9001 §6.1: a new update only once a packet of the current phase was
            # acknowledged. aioquic does not check this itself, so each update sends a PING
            # in the new phase and the next one waits for its acknowledgment.
            if (
                args.key_update
                and key_updates < 5
                and quic._handshake_confirmed
                and (key_updates == 0 or key_updates in proto.pings_acked)
            ):
                proto.request_key_update()
                key_updates += 1
                quic.send_ping(key_updates)
                proto.transmit()
        if args.datagrams:
            end = time.monotonic() + 2.0
            while len(proto.echoed) < args.datagrams and time.monotonic() < end:
                await asyncio.sleep(0.02)
        ok_streams = 0
        for sid, want_echo in requests.items():
            resp = proto.done.get(sid)
            if resp is None:
                proto.failed.append(f"stream {sid}: no complete response")
                continue
            body, echo = resp[:-HASH_LEN], resp[-HASH_LEN:]
            if len(body) != args.down:
                proto.failed.append(f"stream {sid}: {len(body)} body bytes, want {args.down}")
            elif hashlib.sha256(body).digest() != hashlib.sha256(pattern(sid, b"S", args.down)).digest():
                proto.failed.append(f"stream {sid}: response hash mismatch")
            elif echo != want_echo:
                proto.failed.append(f"stream {sid}: server's hash of the request mismatch")
            else:
                ok_streams += 1
        elapsed = time.monotonic() - start
        hs = proto.handshake
        ks = getattr(quic.tls, "key_schedule", None)
        report.update(
            streams_ok=ok_streams,
            datagrams_sent=args.datagrams,
            datagrams_echoed=len(proto.echoed),
            key_updates=key_updates,
            early_data_accepted=bool(hs and hs.early_data_accepted),
            session_resumed=bool(hs and hs.session_resumed),
            version=f"0x{quic._version:08x}" if quic._version else None,
            cipher=ks.cipher_suite.name if ks is not None else None,
            elapsed=round(elapsed, 3),
            mbps=round((args.up + args.down) * args.streams * 8 / elapsed / 1e6, 1),
            errors=proto.failed[:10],
            terminated=str(proto.terminated) if proto.terminated else None,
        )
        report["ok"] = (
            ok_streams == args.streams
            and not proto.failed
            and (args.datagrams == 0 or len(proto.echoed) >= args.datagrams // 2)
        )
        proto.close()
    return report


async def run_client(args) -> int:
    cfg = base_config(args, is_client=True)
    cfg.server_name = "localhost"
    cfg.load_verify_locations(args.ca)
    cfg.verify_mode = ssl.CERT_REQUIRED
    if args.version:
        cfg.original_version = VERSIONS[args.version]
        if not args.versions:
            cfg.supported_versions = [VERSIONS[args.version]] + [
                v for v in VERSIONS.values() if v != VERSIONS[args.version]
            ]
    tickets = []
    report = await one_connection(args, cfg, tickets, zero_rtt=False)
    if args.zero_rtt:
        first = report
        if not tickets:
            report = {"ok": False, "errors": ["no session ticket received"], "first": first}
        else:
            cfg.session_ticket = tickets[-1]
            report = await one_connection(args, cfg, tickets, zero_rtt=True)
            report["first"] = first
            if not report["early_data_accepted"]:
                report["ok"] = False
                report["errors"].append("0-RTT was not accepted")
    print(json.dumps(report), flush=True)
    return 0 if report["ok"] else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["client", "server"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--ca")
    ap.add_argument("--retry", action="store_true")
    ap.add_argument("--versions", help="supported versions, preferred first, e.g. v2,v1")
    ap.add_argument("--version", choices=list(VERSIONS), help="client: version to start with")
    ap.add_argument("--chacha", action="store_true", help="offer/accept ChaCha20-Poly1305 only")
    ap.add_argument("--seconds", type=float, default=120.0, help="server lifetime")
    ap.add_argument("--streams", type=int, default=1)
    ap.add_argument("--up", type=int, default=1000)
    ap.add_argument("--down", type=int, default=1000)
    ap.add_argument("--datagrams", type=int, default=0)
    ap.add_argument("--key-update", action="store_true")
    ap.add_argument("--zero-rtt", action="store_true", help="connect twice, the second time in 0-RTT")
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        ap.error("loopback only")
    if args.mode == "server":
        if not (args.cert and args.key):
            ap.error("server needs --cert and --key")
        return asyncio.run(run_server(args))
    if not args.ca or not args.port:
        ap.error("client needs --port and --ca")
    return asyncio.run(run_client(args))


if __name__ == "__main__":
    sys.exit(main())
