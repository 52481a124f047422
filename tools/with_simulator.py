"""Run a command with a VergeOS simulator started for it, then stop the simulator.

    python tools/with_simulator.py [--vms N] [--speed X] [--scenario FILE] -- COMMAND [ARG ...]

The command sees the simulator through the collection's own environment
variables (VERGEOS_HOST, VERGEOS_USERNAME, VERGEOS_PASSWORD, VERGEOS_CA_PATH,
VERGEOS_VALIDATE_CERTS) plus VERGEOS_SIM_URL for test-support calls.
It also writes those values as YAML variables to a file named by
VERGEOS_INTEGRATION_CONFIG, which tools/ansible-test.sh copies into the staged
collection as tests/integration/integration_config.yml: ansible-test does not
pass the environment to integration targets. The exit status is the command's.
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(ROOT, 'tests', 'simulator', 'launcher.py')


def load_launcher():
    """Return tests/simulator/launcher.py imported by its path (it needs only the standard library).

    By path rather than through sys.path: the simulator's other modules have names as generic as
    query, cache and world, and this script has no use for them.
    """
    spec = importlib.util.spec_from_file_location('launcher', LAUNCHER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while its classes are made
    spec.loader.exec_module(module)
    return module


def parse_args(argv):
    """Return the options and the command to run."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--vms', type=int, help='size of the default world')
    parser.add_argument('--speed', type=float, help='time scale of the simulated durations')
    parser.add_argument('--scenario', help='scenario file to start with')
    parser.add_argument('command', nargs=argparse.REMAINDER, help='the command, after --')
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ['--'] else args.command
    if not command:
        parser.error('a command to run is needed after --')
    return args, command


def simulator_environment(simulator):
    """Return the environment variables that point a client at the simulator."""
    return {
        'VERGEOS_HOST': simulator.host,
        'VERGEOS_USERNAME': 'admin',
        'VERGEOS_PASSWORD': 'admin',
        'VERGEOS_CA_PATH': simulator.ca,
        'VERGEOS_VALIDATE_CERTS': 'true',
        'VERGEOS_SIM_URL': simulator.url,
    }


def write_integration_config(path, environment):
    """Write the simulator's coordinates as YAML variables (plain scalars, all quoted)."""
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('# Written by tools/with_simulator.py for one test run; not committed.\n')
        for name, value in sorted(environment.items()):
            handle.write('%s: "%s"\n' % (name.lower(), value))


def main(argv):
    """Start the simulator, run the command, stop the simulator."""
    args, command = parse_args(argv)
    options = []
    if args.vms is not None:
        options += ['--vms', str(args.vms)]
    if args.speed is not None:
        options += ['--speed', str(args.speed)]
    if args.scenario:
        options += ['--scenario', args.scenario]
    with tempfile.TemporaryDirectory(prefix='vergeos-sim-') as state_dir:
        with load_launcher().start_simulator(options, state_dir) as simulator:
            environment = simulator_environment(simulator)
            config = os.path.join(state_dir, 'integration_config.yml')
            write_integration_config(config, environment)
            environment['VERGEOS_INTEGRATION_CONFIG'] = config
            print('simulator: %s (ca %s)' % (simulator.url, simulator.ca), flush=True)
            return subprocess.run(command, env=dict(os.environ, **environment), check=False).returncode


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
