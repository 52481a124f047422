#!/usr/bin/env python
"""VergeOS API simulator: a real HTTPS server on 127.0.0.1 that behaves like a VergeOS system.

Run it in the foreground:

    python tests/simulator/server.py --port 0 --speed 100

It prints `ca: PATH` (the CA that signed its certificate) and then
`listening on https://127.0.0.1:PORT`, and stops cleanly on SIGTERM or SIGINT.
See README.md beside this file for the API it speaks and the /_sim surface.
"""

import argparse
import contextlib
import dataclasses
import itertools
import json
import os
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Started by path from any directory: make the sibling modules importable.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import app  # noqa: E402  pylint: disable=wrong-import-position
import scenario as scenarios  # noqa: E402  pylint: disable=wrong-import-position
import tls  # noqa: E402  pylint: disable=wrong-import-position
import wire  # noqa: E402  pylint: disable=wrong-import-position

HOST = "127.0.0.1"
# An idle keep-alive connection is closed after this many seconds, freeing its thread.
IDLE_TIMEOUT = 60
# Errors of clients that go away or fail the TLS handshake: not the server's problem.
CLIENT_ERRORS = (ConnectionError, ssl.SSLError, socket.timeout, TimeoutError)
# http.client's limits on a request's header fields, which http.server answers with 431.
MAX_HEADER_LINE = 65536
MAX_HEADERS = 100


class Handler(BaseHTTPRequestHandler):
    """Reads one HTTP/1.1 request at a time and hands it to the application."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    # Buffered writes send headers and body together; split writes meet delayed ACKs (40 ms each).
    wbufsize = -1
    server_version = "vergeos-sim"
    sys_version = ""

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self):
        try:
            super().handle()
        except CLIENT_ERRORS:
            self.close_connection = True

    def parse_request(self):
        """http.server's parse_request, reading the header fields into a wire.Headers.

        The standard one hands them to the email package's parser, which took a third of the
        server's time per request; the request line, the limits (431) and the Connection and
        Expect fields are handled as it handles them.
        """
        if not self._request_line():
            return False
        fields = self._read_fields()
        if fields is None:
            return False
        self.headers = wire.Headers(fields)
        connection = self.headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        if self.headers.get("Expect", "").lower() == "100-continue" and self.request_version >= "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def _request_line(self):
        """Read the method, path and version as http.server does; False once an error is sent (or for an empty line)."""
        self.command = None
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if not words or (len(words) >= 3 and not self._request_version(words[-1])):
            return False
        if not 2 <= len(words) <= 3:
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad request syntax (%r)" % self.requestline)
            return False
        command, path = words[:2]
        if len(words) == 2:
            self.close_connection = True
            if command != "GET":
                self.send_error(HTTPStatus.BAD_REQUEST, "Bad HTTP/0.9 request type (%r)" % command)
                return False
        # As http.server does (gh-87389): a path starting with // is reduced to one /.
        self.command, self.path = command, "/" + path.lstrip("/") if path.startswith("//") else path
        return True

    def _request_version(self, version):
        """Check the request line's HTTP version as http.server does; False once an error is sent."""
        number = version[len("HTTP/"):].split(".") if version.startswith("HTTP/") else []
        if len(number) != 2 or not all(part.isascii() and part.isdigit() and len(part) <= 10 for part in number):
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad request version (%r)" % version)
            return False
        number = int(number[0]), int(number[1])
        if number >= (2, 0):
            self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, "Invalid HTTP version (%s)" % version[len("HTTP/"):])
            return False
        if number >= (1, 1):
            self.close_connection = False
        self.request_version = version
        return True

    def _read_fields(self):
        """Return the header fields as [name, value] pairs (a folded line continues the one before); None once a 431 is sent."""
        fields = []
        for count in itertools.count(1):
            line = self.rfile.readline(MAX_HEADER_LINE + 1)
            if len(line) > MAX_HEADER_LINE:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long",
                                "got more than %d bytes when reading header line" % MAX_HEADER_LINE)
                return None
            if count > MAX_HEADERS:  # the blank line that ends them counts, as in http.client
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers", "got more than %d headers" % MAX_HEADERS)
                return None
            if line in (b"\r\n", b"\n", b""):
                return fields
            text = line.decode("iso-8859-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and fields:
                fields[-1][1] += "\r\n" + text  # kept as the email parser keeps a folded line
            elif ":" in text:
                name, value = text.split(":", 1)
                fields.append([name, value.lstrip(" \t")])

    def _read_chunked(self):
        chunks = []
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError as error:
                raise wire.ApiError(400, "Invalid chunked body") from error
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailer fields
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").strip().lower() == "chunked":
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            raise wire.ApiError(400, "Invalid Content-Length")
        return self.rfile.read(int(length))

    def _serve(self):
        try:
            body = self._read_body()
        except wire.ApiError as error:
            self._send(wire.error_response(error))
            self.close_connection = True
            return
        request = wire.make_request(self.command, self.path, self.headers, body)
        self._send(self.server.app.handle(request))

    def _send(self, response):
        if response.cut == "drop":
            # A lost answer: the connection closes without a word (nothing has been written yet).
            self.close_connection = True
            return
        payload = wire.payload_of(response)
        announced = len(payload)
        if response.cut == "truncate":
            # The full length is announced, half of it arrives, then the connection closes.
            announced = max(announced, 1)
            payload = payload[:len(payload) // 2]
            self.close_connection = True
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Stay quiet: the request log is served under /_sim/requests."""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # Many short-lived clients (benchmarks) arrive at once.
    request_queue_size = 128

    def __init__(self, port, simulator, context):
        super().__init__((HOST, port), Handler)
        self.app = simulator
        if context is not None:
            # The handshake then happens in the connection's own thread, not in the accept loop.
            self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], CLIENT_ERRORS):
            super().handle_error(request, client_address)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="VergeOS API simulator (HTTPS on 127.0.0.1).")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default 0)")
    parser.add_argument("--scenario", metavar="FILE",
                        help="JSON scenario file (see scenario.schema.json), or the name of one in scenarios/ (e.g. switches); "
                             "default: the default world")
    parser.add_argument("--vms", type=int, default=10, metavar="N", help="number of VMs of the default world (default 10)")
    parser.add_argument("--speed", type=float, default=1.0, metavar="X",
                        help="time scale: guest durations are divided by X (default 1; a scenario's speed wins)")
    parser.add_argument("--state-dir", metavar="DIR", help="where to write the CA and server certificate (default: a fresh temp dir)")
    parser.add_argument("--http", action="store_true", help="serve plain HTTP (for the simulator's own tests only)")
    parser.add_argument("--tls-mode", choices=tls.MODES, default="valid",
                        help="valid (default); name-mismatch: the certificate names another host only; expired: it expired yesterday")
    parser.add_argument("--rate-limit", metavar="RATE[:BURST]",
                        help="API rate limit per user: RATE requests a second, bursts of BURST (default: RATE rounded up); "
                             "default none; a scenario's rate_limit wins")
    parser.add_argument("--rate-limit-mode", choices=("drop", "429"),
                        help="a request over the limit: drop the connection (default) or answer 429 with Retry-After")
    parser.add_argument("--rate-limit-retry-after", type=int, metavar="SECONDS", help="mode 429: the Retry-After header (default 1)")
    args = parser.parse_args(argv)
    args.rate_limit = rate_limit_setting(parser, args)
    if args.http and args.tls_mode != "valid":
        parser.error("--tls-mode needs HTTPS (leave out --http)")
    if args.speed <= 0:
        parser.error("--speed must be more than 0")
    if args.vms < 0:
        parser.error("--vms must not be negative")
    return args


def rate_limit_setting(parser, args):
    """Return the command line's rate limit as a scenario's `rate_limit` (None: none), validated like one."""
    if args.rate_limit is None:
        if args.rate_limit_mode is not None or args.rate_limit_retry_after is not None:
            parser.error("--rate-limit-mode and --rate-limit-retry-after need --rate-limit")
        return None
    rate_text, _colon, burst_text = args.rate_limit.partition(":")
    try:
        setting = {"rate": float(rate_text)}
        if burst_text:
            setting["burst"] = int(burst_text)
    except ValueError:
        parser.error("--rate-limit: expected RATE[:BURST] (a number, then a whole number), got %r" % args.rate_limit)
    for name, value in (("mode", args.rate_limit_mode), ("retry_after", args.rate_limit_retry_after)):
        if value is not None:
            setting[name] = value
    root = scenarios.load_schema()
    try:
        scenarios.validate_value(setting, root["$defs"]["rate_limit"], root, "--rate-limit")
        scenarios.check_rate_limit(setting, "--rate-limit")
    except scenarios.ScenarioError as error:
        parser.error(str(error))
    return setting


def start_definition(args):
    """Return the validated scenario the server starts with (and returns to on reset)."""
    if args.scenario is None:
        return scenarios.default_scenario(args.vms)
    if not os.path.exists(args.scenario) and args.scenario in scenarios.scenario_names():
        return scenarios.named(args.scenario)
    with open(args.scenario, encoding="utf-8") as handle:
        return scenarios.validate(json.load(handle))


def tls_context(state_dir, mode="valid"):
    """Write the certificates, announce the CA file and return the server context."""
    ca_path, cert_path, key_path = tls.write_certificates(state_dir, mode)
    print("ca: %s" % ca_path, flush=True)
    return server_context(cert_path, key_path)


def server_context(cert_path, key_path):
    """Return tls.py's server context, without TLS 1.3 session tickets.

    A TLS 1.3 server sends two after every handshake unless told not to; no client of the tests
    resumes a session (requests and urllib3 never do), so they were only work: a fifth of what a
    new connection cost, and the collection opens several per run (one per parallel write).
    """
    context = tls.server_context(cert_path, key_path)
    context.num_tickets = 0
    return context


@contextlib.contextmanager
def serve_in_thread(state_dir, definition=None, speed=1.0):
    """Serve a simulator over HTTPS (certificates in state_dir) from a daemon thread of this process for the `with` block.

    For a test that loads many small worlds and reads the application itself (its world, its
    request log) where it would otherwise ask over HTTPS, while its clients talk HTTPS to this
    server as to one in a process of its own. Yields the InThread: the application (`app`, an
    app.Simulator), `url`, `host` ("127.0.0.1:PORT") and `ca` (the CA file).
    definition: a validated scenario (default: the default world without VMs); speed as --speed.
    """
    simulator = app.Simulator(definition if definition is not None else scenarios.default_scenario(0), speed)
    try:
        ca_path, cert_path, key_path = tls.write_certificates(state_dir)
        server = Server(0, simulator, server_context(cert_path, key_path))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        try:
            host = "%s:%d" % (HOST, server.server_address[1])
            yield InThread(app=simulator, url="https://" + host, host=host, ca=ca_path)
        finally:
            server.shutdown()
            server.server_close()
    finally:
        simulator.close()  # the VMs' ports and their thread


@dataclasses.dataclass
class InThread:
    """A simulator served from a thread of this process (serve_in_thread)."""

    app: object  # the app.Simulator: its world, its request log
    url: str
    host: str
    ca: str


def serve(args, state_dir):
    simulator = app.Simulator(start_definition(args), args.speed, args.rate_limit)
    try:
        context = None if args.http else tls_context(state_dir, args.tls_mode)
        server = Server(args.port, simulator, context)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_signal_args: stop.set())
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        print("listening on %s://%s:%d" % ("http" if args.http else "https", HOST, server.server_address[1]), flush=True)
        while not stop.wait(0.5):
            pass
        server.shutdown()
        server.server_close()
    finally:
        simulator.close()  # the VMs' ports and their thread


def main(argv=None):
    args = parse_args(argv)
    own_state_dir = args.state_dir is None
    state_dir = tempfile.mkdtemp(prefix="vergeos-sim-") if own_state_dir else args.state_dir
    os.makedirs(state_dir, exist_ok=True)
    try:
        serve(args, state_dir)
    except (OSError, ValueError) as error:
        print("error: %s" % error, file=sys.stderr, flush=True)
        return 2
    finally:
        if own_state_dir:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
