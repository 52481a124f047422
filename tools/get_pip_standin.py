"""Offline stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test creates its sanity/unit virtual environments without pip and then
fetches ``get-pip.py`` from a host these machines cannot reach. It looks in its
cache first (``~/.ansible/test/cache``, with HOME the project's own
``~/.cache/vergeos.power/ansible-test-home``), so ``tools/ansible-test.sh`` copies this file there. It gives the
fresh virtual environment pip from the interpreter's bundled wheel and then lets
that pip install what ansible-test asked for (through the configured package
index, which is reachable).
"""

import subprocess
import sys

# get-pip.py options that plain ``pip install`` does not accept.
GET_PIP_ONLY_OPTIONS = frozenset(('--no-setuptools', '--no-wheel'))


def main():
    """Bootstrap pip, then install the requested packages."""
    subprocess.run([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'], check=True, stdout=subprocess.DEVNULL)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    subprocess.run([sys.executable, '-m', 'pip', 'install'] + args, check=True)


if __name__ == '__main__':
    main()
