"""Start a simulator process and wait until it accepts connections.

Used by the pytest fixtures, tools/with_simulator.py (integration tests, demo)
and the benchmarks, so every caller reads the start-up lines the same way.
"""

import contextlib
import dataclasses
import os
import queue
import signal
import subprocess
import sys
import threading

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'server.py')
START_TIMEOUT = 60


@dataclasses.dataclass
class Simulator:
    """A running simulator: its process, base URL, ``host:port``, CA file and what it prints."""

    process: subprocess.Popen
    url: str
    host: str
    ca: str
    lines: queue.Queue = dataclasses.field(default_factory=queue.Queue, repr=False)

    def output(self):
        """Return the lines (stdout and stderr) the server printed after it started, so far."""
        printed = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return printed
            if line is not None:
                printed.append(line)


def _read_lines(stream, lines):
    for line in stream:
        lines.put(line.rstrip('\n'))
    lines.put(None)


def _wait_for_start(process, lines):
    """Return (url, ca) once the server prints both, or raise with what it said."""
    url = ca = None
    said = []
    while url is None:
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            line = None
        if line is None:
            process.kill()
            raise RuntimeError('the simulator did not start (exit status %s); it said:\n%s' % (process.wait(), '\n'.join(said)))
        said.append(line)
        if line.startswith('ca: '):
            ca = line[len('ca: '):]
        elif line.startswith('listening on '):
            url = line[len('listening on '):]
    if ca is None and url.startswith('https:'):
        process.kill()
        raise RuntimeError('the simulator did not name its CA file; it said:\n%s' % '\n'.join(said))
    return url, ca


def stop(process, timeout=10):
    """Stop the simulator the way an operator would (SIGTERM), then insist."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def start_simulator(options, state_dir, python=None):
    """Run ``server.py --port 0 --state-dir STATE_DIR OPTIONS...`` for the ``with`` block."""
    command = [python or sys.executable, SERVER, '--port', '0', '--state-dir', state_dir] + list(options)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True) as process:
        lines = queue.Queue()
        threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
        try:
            url, ca = _wait_for_start(process, lines)
            yield Simulator(process=process, url=url, host=url.split('://', 1)[1], ca=ca, lines=lines)
        finally:
            stop(process)
