"""Give the benchmarks the sys.path of the functional suites; they run as scripts, not under pytest.

    import bench_paths  # noqa: F401  (before launcher, run_ansible...)

A script's own directory is on its sys.path, so the benchmarks reach this module by name. It
adds the directories of `pythonpath` in tests/functional/pytest.ini, so that a benchmark imports
launcher (tests/simulator) and run_ansible (tests/functional) as the pytest suites do, from
one list of directories.
"""

import configparser
import os
import sys

FUNCTIONAL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "functional")


def functional_pythonpath():
    """Return the directories of `pythonpath` in tests/functional/pytest.ini, absolute, in their order."""
    ini = configparser.ConfigParser()
    with open(os.path.join(FUNCTIONAL, "pytest.ini"), encoding="utf-8") as handle:
        ini.read_file(handle)
    return [os.path.normpath(os.path.join(FUNCTIONAL, entry)) for entry in ini["pytest"]["pythonpath"].split()]


for directory in reversed(functional_pythonpath()):
    if directory not in sys.path:
        sys.path.insert(0, directory)
