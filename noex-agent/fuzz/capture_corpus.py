#!/usr/bin/env python3
"""Capture the fuzz targets' seed corpus from a real agent.

Starts the demo application (`noex demo --no-ui`) with its agent in a fresh directory,
talks to the agent over its socket the way a client does, and writes what crossed the
socket into seeds/<target>/:

- request_decoder: the body of every request sent;
- server_frame_decoder: the body of every frame the agent sent (one per kind of frame,
  reply, error and event, so the corpus stays small), and a `lagged` written by hand;
- frame_decoder: whole framed streams of requests, in that target's input format (one
  byte `n`, `n` chunk lengths, then the stream), some cut or oversized on purpose.

Usage, from the repository root, after `cargo build -p noex-cli`:

    python3 noex-agent/fuzz/capture_corpus.py [path/to/noex]

No third-party modules: MessagePack is written and read by the few lines below.
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FUZZ_DIR = Path(__file__).resolve().parent
REPO_ROOT = FUZZ_DIR.parents[1]
SEEDS = FUZZ_DIR / "seeds"
TARGETS = ("frame_decoder", "request_decoder", "server_frame_decoder")
RUNNING_LINE = "noex demo is running as pid"
MAX_REQUEST_FRAME = 64 * 1024


# --- MessagePack: only what requests and the agent's frames use ---------------------


def pack(value):
    if value is None:
        return b"\xc0"
    if value is True:
        return b"\xc3"
    if value is False:
        return b"\xc2"
    if isinstance(value, int):
        if 0 <= value < 0x80:
            return bytes([value])
        for marker, fmt, limit in ((0xCC, ">B", 1 << 8), (0xCD, ">H", 1 << 16),
                                   (0xCE, ">I", 1 << 32), (0xCF, ">Q", 1 << 64)):
            if 0 <= value < limit:
                return bytes([marker]) + struct.pack(fmt, value)
        raise ValueError(f"unsupported integer {value}")
    if isinstance(value, str):
        data = value.encode()
        if len(data) < 32:
            return bytes([0xA0 | len(data)]) + data
        if len(data) < 1 << 8:
            return b"\xd9" + struct.pack(">B", len(data)) + data
        return b"\xda" + struct.pack(">H", len(data)) + data
    if isinstance(value, dict):
        head = bytes([0x80 | len(value)]) if len(value) < 16 else b"\xde" + struct.pack(">H", len(value))
        return head + b"".join(pack(k) + pack(v) for k, v in value.items())
    if isinstance(value, list):
        head = bytes([0x90 | len(value)]) if len(value) < 16 else b"\xdc" + struct.pack(">H", len(value))
        return head + b"".join(pack(v) for v in value)
    raise TypeError(f"cannot pack {value!r}")


def unpack(data):
    value, end = _unpack(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes after the value")
    return value


def _unpack(data, at):
    marker = data[at]
    at += 1
    if marker < 0x80:
        return marker, at
    if marker >= 0xE0:
        return marker - 0x100, at
    if 0x80 <= marker <= 0x8F:
        return _unpack_map(data, at, marker & 0x0F)
    if 0x90 <= marker <= 0x9F:
        return _unpack_array(data, at, marker & 0x0F)
    if 0xA0 <= marker <= 0xBF:
        n = marker & 0x1F
        return data[at:at + n].decode(), at + n
    fixed = {0xC0: None, 0xC2: False, 0xC3: True}
    if marker in fixed:
        return fixed[marker], at
    ints = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q"}
    if marker in ints:
        size = struct.calcsize(ints[marker])
        return struct.unpack(ints[marker], data[at:at + size])[0], at + size
    lengths = {0xD9: ">B", 0xDA: ">H", 0xDB: ">I", 0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}
    if marker in lengths:
        size = struct.calcsize(lengths[marker])
        (n,) = struct.unpack(lengths[marker], data[at:at + size])
        at += size
        raw = data[at:at + n]
        return (raw.decode() if marker >= 0xD9 else raw), at + n
    if marker in (0xDC, 0xDD, 0xDE, 0xDF):
        fmt = ">H" if marker in (0xDC, 0xDE) else ">I"
        size = struct.calcsize(fmt)
        (n,) = struct.unpack(fmt, data[at:at + size])
        reader = _unpack_array if marker in (0xDC, 0xDD) else _unpack_map
        return reader(data, at + size, n)
    raise ValueError(f"unsupported MessagePack marker {marker:#x}")


def _unpack_map(data, at, n):
    result = {}
    for _ in range(n):
        key, at = _unpack(data, at)
        result[key], at = _unpack(data, at)
    return result, at


def _unpack_array(data, at, n):
    result = []
    for _ in range(n):
        item, at = _unpack(data, at)
        result.append(item)
    return result, at


# --- The conversation -----------------------------------------------------------------


def framed(body):
    return struct.pack(">I", len(body)) + body


class Connection:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_exact(self, n):
        chunks = bytearray()
        while len(chunks) < n:
            chunk = self.sock.recv(n - len(chunks))
            if not chunk:
                raise EOFError("the agent closed the connection")
            chunks += chunk
        return bytes(chunks)

    def read_frame(self, timeout=10):
        self.sock.settimeout(timeout)
        (length,) = struct.unpack(">I", self.read_exact(4))
        return self.read_exact(length)

    def close(self):
        self.sock.close()


class Capture:
    def __init__(self):
        self.requests = []  # (name, body)
        self.frames = {}  # kind -> body, the first of each kind
        self.request_stream = bytearray()

    def keep_frame(self, body):
        frame = unpack(body)
        kind = frame.get("type")
        if kind == "reply":
            kind = f"reply_{frame['body']['type']}"
            if "strings" in frame["body"].get("snapshot", {}):
                kind += "_rows"
        elif kind == "event":
            kind = f"event_{frame['event']['kind']['type']}"
        elif kind == "error":
            kind = f"error_{frame['error']['code']}"
        self.frames.setdefault(kind, body)
        return frame

    def request(self, conn, name, request_id, request):
        body = pack({"id": request_id, "request": request})
        return self.send_body(conn, name, body, request_id)

    def send_body(self, conn, name, body, request_id):
        self.requests.append((name, body))
        self.request_stream += framed(body)
        conn.send_raw(framed(body))
        # Pushes may come before the answer: keep them too.
        while True:
            frame = self.keep_frame(conn.read_frame())
            if frame.get("type") in ("reply", "error") and frame.get("id") == request_id:
                return frame
            # An undecodable request has no id for the error to echo, or one read loosely.
            if request_id is None and frame.get("type") == "error":
                return frame


def start_demo(noex, agent_dir):
    env = dict(os.environ, NOEX_AGENT_DIR=agent_dir)
    demo = subprocess.Popen([noex, "demo", "--no-ui"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    for line in demo.stdout:
        if line.startswith(RUNNING_LINE):
            socket_path = line.split("(agent socket ", 1)[1].rstrip().rstrip(")")
            return demo, socket_path
    raise RuntimeError("the demo exited before its agent started")


def converse(socket_path, capture):
    conn = Connection(socket_path)
    capture.keep_frame(conn.read_frame())  # the agent's hello comes first
    capture.request(conn, "hello", 1, {"type": "hello", "protocol_version": {"major": 2, "minor": 1}})
    capture.request(conn, "snapshot", 2, {"type": "snapshot"})
    capture.request(conn, "snapshot_rows", 13, {"type": "snapshot", "rows": True})
    capture.request(conn, "tree", 3, {"type": "tree"})
    capture.request(conn, "subscribe", 4, {"type": "subscribe", "history": 20})
    capture.request(conn, "kill", 5, {"type": "kill", "target": "worker-1", "reason": None})
    capture.request(conn, "kill_forced_with_reason", 6,
                    {"type": "kill", "target": "cache", "reason": "fuzz seed", "force": True})
    capture.request(conn, "kill_ambiguous", 7, {"type": "kill", "target": "health"})
    capture.request(conn, "kill_not_found", 8, {"type": "kill", "target": "nobody"})
    capture.request(conn, "restart", 9, {"type": "restart", "target": "flaky"})
    capture.request(conn, "restart_root", 10, {"type": "restart", "target": "app_sup"})
    capture.request(conn, "unknown_type", 11, {"type": "teleport", "to": "mars"})
    capture.request(conn, "unknown_field", 12, {"type": "tree", "depth": 3})
    capture.send_body(conn, "bad_frame", b"\x82\xa2id\x0d\xa7request\xc1", None)
    # Events the demo pushes by itself (restarts after the kills, random crashes).
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            capture.keep_frame(conn.read_frame(timeout=max(0.1, deadline - time.monotonic())))
        except (TimeoutError, socket.timeout):
            break
    capture.request(conn, "unsubscribe", 14, {"type": "unsubscribe"})
    conn.close()

    # A client of another major version is refused, then disconnected.
    conn = Connection(socket_path)
    conn.read_frame()
    capture.request(conn, "hello_other_major", 1, {"type": "hello", "protocol_version": {"major": 3, "minor": 0}})
    conn.close()

    # A frame over the request limit ends the connection: the stream cannot resync.
    conn = Connection(socket_path)
    conn.read_frame()
    conn.send_raw(struct.pack(">I", MAX_REQUEST_FRAME + 1))
    capture.keep_frame(conn.read_frame())
    conn.close()


def write_seeds(capture):
    for target in TARGETS:
        shutil.rmtree(SEEDS / target, ignore_errors=True)
        (SEEDS / target).mkdir(parents=True)
    for name, body in capture.requests:
        (SEEDS / "request_decoder" / f"{name}.msgpack").write_bytes(body)
    for kind, body in sorted(capture.frames.items()):
        (SEEDS / "server_frame_decoder" / f"{kind}.msgpack").write_bytes(body)
    # A client that reads fast enough never sees one: written by hand, as PROTOCOL.md shows it.
    lagged = pack({"type": "lagged", "dropped": 312})
    (SEEDS / "server_frame_decoder" / "lagged_written_by_hand.msgpack").write_bytes(lagged)

    stream = bytes(capture.request_stream)
    whole = b"\x00"
    # Cuts inside a length prefix, inside a body, and a wake-up with no new bytes.
    chunk_lengths = bytes([2, 3, 0, 7, 1, 40])
    chunked = bytes([len(chunk_lengths)]) + chunk_lengths
    frame_seeds = {
        "session_whole": whole + stream,
        "session_in_chunks": chunked + stream,
        "session_cut_in_a_body": whole + stream[:-3],
        "session_cut_in_a_prefix": whole + stream + b"\x00\x00",
        "session_then_too_large": whole + stream + struct.pack(">I", MAX_REQUEST_FRAME + 1) + b"\x00",
        "empty_frame_then_request": whole + framed(b"") + framed(capture.requests[1][1]),
    }
    for name, data in frame_seeds.items():
        (SEEDS / "frame_decoder" / name).write_bytes(data)


def main():
    noex = sys.argv[1] if len(sys.argv) > 1 else str(REPO_ROOT / "target" / "debug" / "noex")
    agent_dir = tempfile.mkdtemp(prefix="noex-capture-")
    os.chmod(agent_dir, 0o700)
    demo = None
    try:
        demo, socket_path = start_demo(noex, agent_dir)
        capture = Capture()
        converse(socket_path, capture)
        write_seeds(capture)
    finally:
        if demo is not None:
            demo.send_signal(signal.SIGTERM)
            demo.wait(timeout=10)
        shutil.rmtree(agent_dir, ignore_errors=True)
    for target in TARGETS:
        files = sorted((SEEDS / target).iterdir())
        size = sum(f.stat().st_size for f in files)
        print(f"{target}: {len(files)} files, {size} bytes")


if __name__ == "__main__":
    main()
