"""Reachable ports: per VM, a real TCP listener on a loopback address that listens only while its guest is up.

A VM's NIC addresses are not reachable from the controller, so a VM of the
scenario may have a `port`: the simulator binds that address and port when
the world is loaded (port 0: a free one, chosen then and kept for the
world's life) and listens on it only while the guest is up (power.is_up:
status running, past its boot and agent delay). Otherwise the socket stays
bound without listening, so a connection is refused (RST), not accepted and
closed: a port check such as ansible.builtin.wait_for sees it closed.

A connection accepted while up is served by a thread of its own: when its
first bytes (within PEEK seconds) are an HTTP request, it gets the guest's
health answer (power.health_answer: a status, or none at all for a hanging
guest until the client gives up); otherwise (a plain port check that sends
nothing, or closes at once) it gets one line, `vergeos-sim <VM name> up`.
Every answer is written to the health log (HealthLog) with the world's time,
the clock of the request log, so a test can order health checks and API
requests.

One thread per world with ports owns every socket: it wakes when the next
power transition falls due (power transitions are lazy, so it advances the
world itself, under its lock), when asked to settle after a request changed
the world, and at least every IDLE seconds. settle() returns once the
listeners match the world, so an API answer that shows a guest up or down is
sent after its port says the same. close() stops the thread and closes every
socket; a world without ports starts no thread.
"""

import collections
import http
import re
import select
import socket
import threading
import time

import power
import scenario as scenarios

IDLE = 0.5  # the longest the thread sleeps without a transition due
SETTLE_TIMEOUT = 5.0
BACKLOG = 64
PEEK = 0.2  # how long an accepted connection may take to send an HTTP request before it gets the one line
REQUEST_TIMEOUT = 2.0  # how long the rest of an HTTP request's head may take once it began
HEAD_LIMIT = 65536
HANG_POLL = 0.5  # a hanging answer looks this often whether the client gave up or the world closed
HEALTH_LOG_LIMIT = 100_000
REQUEST_LINE = re.compile(rb"([A-Z]+) (\S+) HTTP/1\.[0-9]\r?\n")


class HealthLog:
    """The last HEALTH_LOG_LIMIT health checks the VMs' ports answered (GET /_sim/health-log)."""

    def __init__(self, limit=HEALTH_LOG_LIMIT):
        self._entries = collections.deque(maxlen=limit)
        self._lock = threading.Lock()

    def record(self, entry):
        with self._lock:
            self._entries.append(entry)

    def entries(self):
        """Return the entries oldest first (a port check is logged when its connection was accepted, a little before its entry is)."""
        with self._lock:
            entries = list(self._entries)
        return sorted(entries, key=lambda entry: entry["time"])

    def clear(self):
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
        return count


def _read_head(connection):
    """Return the first bytes a client sends: b"" when it sends nothing within PEEK seconds or closes, else its request head."""
    connection.settimeout(PEEK)
    try:
        data = connection.recv(4096)
    except OSError:  # timed out, or the client went away
        return b""
    connection.settimeout(REQUEST_TIMEOUT)
    while data and b"\r\n\r\n" not in data and b"\n\n" not in data and len(data) < HEAD_LIMIT:
        if REQUEST_LINE.match(data) is None and b"\n" in data:
            break  # not HTTP: no need to wait for more
        try:
            more = connection.recv(4096)
        except OSError:  # timed out, or the client went away
            break
        if not more:
            break
        data += more
    return data


def _http_answer(status, name, head_only):
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    body = ("vergeos-sim %s up\n" % name).encode("utf-8")
    header = ("HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
              % (status, reason, len(body))).encode("ascii")
    return header if head_only else header + body


class Listener:
    """The port of one VM: bound for the world's life, listening while the guest is up."""

    def __init__(self, machine, host, port):
        self.machine = machine
        self.host = host
        self.port = port  # 0 until bound
        self.sock = None
        self.listening = False
        self.error = None

    def bind(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.sock = sock
        self.port = sock.getsockname()[1]
        self.listening = False

    def listen(self, up):
        """Listen (up) or stop listening: a closed listening socket is replaced by a bound one on the same port."""
        if up == self.listening or (self.sock is None and not up):
            return
        try:
            if up:
                if self.sock is None:
                    self.bind()
                self.sock.listen(BACKLOG)
                self.listening = True
            else:
                self.close()
                self.bind()
            self.error = None
        except OSError as error:
            self.close()
            self.error = "%s:%d: %s" % (self.host, self.port, error.strerror or error)

    def accept(self, serve):
        """Hand every waiting connection to serve(listener, connection)."""
        while self.listening:
            try:
                connection, _address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            serve(self, connection)

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.listening = False

    def listing(self):
        vm = self.machine.vm
        return {"vm": vm["name"], "vm_key": vm["$key"], "host": self.host, "port": self.port, "open": self.listening,
                "error": self.error}


class PortSet:
    """Every port of one world and the thread that keeps them in step with the guests."""

    def __init__(self, world, entries):
        """entries: (machine, the scenario's `port` object) of the VMs that have one."""
        self.world = world
        self.listeners = [Listener(machine, spec.get("host", scenarios.DEFAULT_PORT_HOST), spec.get("port", 0))
                          for machine, spec in entries]
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._stopping = False
        self._thread = None
        self._wake = None  # (reader, writer) socket pair that interrupts the thread's select
        self.log = HealthLog()  # app.py gives every world the simulator's one log
        self._connections = set()  # connections being answered (a hanging one until its client gives up)

    @property
    def active(self):
        return self._thread is not None

    def open(self):
        """Bind every port and start the thread; OSError (nothing left open) when a port cannot be bound."""
        if not self.listeners or self._thread is not None:
            return
        try:
            for listener in self.listeners:
                listener.bind()
        except OSError:
            for listener in self.listeners:
                listener.close()
            raise
        self._stopping = False
        self._wake = socket.socketpair()
        for end in self._wake:
            end.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="vergeos-sim-ports", daemon=True)
        self._thread.start()
        self.settle()

    def close(self):
        """Stop the thread and close every socket (idempotent)."""
        thread = self._thread
        if thread is not None:
            with self._cond:
                self._stopping = True
            self._poke()
            thread.join(SETTLE_TIMEOUT)
            self._thread = None
        with self._cond:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)  # a hanging answer ends with its world
            except OSError:
                pass
        for listener in self.listeners:
            listener.close()
        if self._wake is not None:
            for end in self._wake:
                end.close()
            self._wake = None

    def settle(self):
        """Return once the listeners match the world as it is now (call without the world lock)."""
        thread = self._thread
        if thread is None:
            return
        with self._cond:
            self._requested += 1
            target = self._requested
        self._poke()
        with self._cond:
            self._cond.wait_for(lambda: self._done >= target or self._stopping or not thread.is_alive(), SETTLE_TIMEOUT)

    def listing(self):
        return [listener.listing() for listener in self.listeners]

    def _serve(self, listener, connection):
        """Answer one accepted connection in a thread of its own (the HTTP client may take its time, a hang lasts)."""
        accepted = self._clock()  # a port check passes when it connects: logged at that time, no later
        with self._cond:
            self._connections.add(connection)
        threading.Thread(target=self._answer, args=(listener, connection, accepted), name="vergeos-sim-port-answer",
                         daemon=True).start()

    def _answer(self, listener, connection, accepted):
        machine = listener.machine
        name = machine.vm["name"]
        try:
            head = _read_head(connection)
            request = REQUEST_LINE.match(head)
            if request is None:
                self._record(machine, accepted, "tcp", "up")
                connection.settimeout(0.5)
                connection.sendall(("vergeos-sim %s up\r\n" % name).encode("utf-8"))
                return
            method, path = request.group(1).decode("ascii"), request.group(2).decode("utf-8", "replace")
            status = power.health_answer(machine)
            self._record(machine, self._clock(), "http", "hang" if status is None else status, method=method, path=path)
            if status is None:
                self._hang(connection)
                return
            connection.settimeout(0.5)
            connection.sendall(_http_answer(status, name, method == "HEAD"))
        except OSError:
            pass
        finally:
            with self._cond:
                self._connections.discard(connection)
            connection.close()

    def _hang(self, connection):
        """Never answer: read until the client gives up (closes) or the world is closed."""
        connection.settimeout(HANG_POLL)
        while not self._stopping:
            try:
                if not connection.recv(4096):
                    return
            except TimeoutError:
                continue

    def _clock(self):
        """Return (world time, wall time) now: the world's time is the request log's clock (never earlier than a request before)."""
        world = self.world
        wall = time.time()
        with world.lock:
            return world.tick(wall), wall

    def _record(self, machine, when, kind, status, **request):
        """Log a health answer at `when` (world time, wall time)."""
        self.log.record({"time": when[0], "wall": when[1], "vm": machine.vm["name"], "vm_key": machine.vm["$key"],
                         "kind": kind, "status": status, **request})

    def _poke(self):
        wake = self._wake
        if wake is None:
            return
        try:
            wake[1].send(b"x")
        except OSError:
            pass  # full (a wake-up is pending anyway) or closed

    def _sync(self):
        """Advance the world, make the listeners match its guests; return the seconds until the next transition."""
        world = self.world
        with world.lock:
            now = world.tick(time.time())
            world.advance(now)
            wanted = [(listener, power.is_up(listener.machine)) for listener in self.listeners]
            due = world.power.next_due()
        for listener, up in wanted:
            listener.listen(up)
        if due is None:
            return IDLE
        return min(IDLE, max(0.001, due - time.time()))

    def _run(self):
        while True:
            with self._cond:
                if self._stopping:
                    break
                requested = self._requested
            timeout = self._sync()
            with self._cond:
                self._done = max(self._done, requested)
                self._cond.notify_all()
            # poll, not select: the server's connections may take descriptors past select's limit.
            watched = {self._wake[0].fileno(): None}
            watched.update((listener.sock.fileno(), listener) for listener in self.listeners if listener.listening)
            poller = select.poll()
            for descriptor in watched:
                poller.register(descriptor, select.POLLIN)
            try:
                events = poller.poll(timeout * 1000)
            except OSError:
                continue
            for descriptor, _event in events:
                listener = watched[descriptor]
                if listener is not None:
                    listener.accept(self._serve)
                    continue
                try:
                    while self._wake[0].recv(4096):
                        pass
                except OSError:
                    pass  # drained
        with self._cond:
            self._cond.notify_all()
