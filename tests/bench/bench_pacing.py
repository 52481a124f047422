"""The pacing law against models of a rate limit, on a fake clock: the figures of docs/performance.md's model tables.

    python tests/bench/bench_pacing.py [--requests 205,400] [--seeds 8] [--compare OTHER_PACING_PY]

No simulator and no HTTP: the models of tests/unit/plugins/module_utils/test_pacing.py (a
token bucket refusing by a dropped connection or by 429 with Retry-After: 1, and a client
sending one request at a time with a 2.5 ms round trip) drive the checkout's
plugins/module_utils/pacing.py. Two tables:

1. Each limit/burst shape, in each mode, for each count of requests: the requests refused,
   the admitted rate while sending (admitted requests from the first send to the last one
   admitted, over that time, as a share of the limit: the server's burst counts, so it can
   exceed 100 %) and the limit the pacer measured.
2. Drop mode with a lossy network in front of the bucket (each request lost with the given
   probability, seeded; the mean over --seeds seeds): the admitted share and the refused share.

--compare runs another version of pacing.py beside it (for example the one of an earlier
commit: `git show REV:plugins/module_utils/pacing.py > /tmp/pacing_before.py`). Counted, not
timed: the figures are the same on any machine. Prints; asserts nothing.
"""

import argparse
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "tests", "unit", "plugins", "module_utils", "test_pacing.py")
PACING = os.path.join(ROOT, "plugins", "module_utils", "pacing.py")
SHAPES = ((50, 20), (50, 50), (10, 5), (200, 20), (100, 20), (50, 5), (20, 20))
LOSSY_SHAPES = ((50, 20), (10, 5), (100, 20), (50, 50))
LOSSES = (0.0, 0.02, 0.05, 0.08)


def load(path, name):
    """Import a Python file as a module of this name (pacing.py needs nothing but the standard library)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def models():
    """The unit tests' models (Clock, TokenBucket, Run, RandomLoss); they import the collection as `make venv` installs it."""
    sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))
    return load(MODELS, "pacing_models")


def one_run(model, pacing, mode, shape, requests, *, loss=0.0, seed=0):
    """Return (refused, arrivals, admitted share of the limit, measured limit) of one run; ``shape`` is (rate, burst)."""
    rate, burst = shape
    clock = model.Clock()
    server = model.TokenBucket(clock, rate, burst)
    if loss:
        server = model.RandomLoss(server, loss, seed)
    run = model.Run(pacing.Pacer(clock=clock, sleep=clock.sleep), clock, server, mode=mode, retry_after=1.0)
    run.send(requests)
    return run.refused, len(run.arrivals), run.admitted_rate() / rate, run.pacer.limit


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", default="205,400", help="requests of each run, comma-separated (default 205,400)")
    parser.add_argument("--seeds", type=int, default=8, help="seeds of the lossy runs, averaged (default 8)")
    parser.add_argument("--compare", help="another pacing.py to run beside the checkout's")
    args = parser.parse_args(argv)
    model = models()
    versions = [("this checkout", load(PACING, "pacing_checkout"))]
    if args.compare:
        versions.insert(0, ("--compare", load(args.compare, "pacing_compare")))
    names = " | ".join(name for name, _pacing in versions)
    print("1. refused, admitted share of the limit, measured limit (%s)" % names)
    for mode in ("429", "drop"):
        for rate, burst in SHAPES:
            for requests in (int(count) for count in args.requests.split(",")):
                cells = []
                for _name, pacing in versions:
                    refused, _arrivals, share, limit = one_run(model, pacing, mode, (rate, burst), requests)
                    cells.append("%3d %6.1f %% %7s" % (refused, 100 * share, "%.1f" % limit if limit else "none"))
                print("%-4s %3d/%-3d %3d requests: %s" % (mode, rate, burst, requests, " | ".join(cells)))
    print("2. drop mode, a lossy network in front: admitted share of the limit, refused share (mean of %d seeds, 400 requests; %s)"
          % (args.seeds, names))
    for rate, burst in LOSSY_SHAPES:
        for loss in LOSSES:
            cells = []
            for _name, pacing in versions:
                runs = [one_run(model, pacing, "drop", (rate, burst), 400, loss=loss, seed=seed) for seed in range(args.seeds)]
                share = sum(run[2] for run in runs) / len(runs)
                refused = sum(run[0] / run[1] for run in runs) / len(runs)
                cells.append("%6.1f %% %5.1f %%" % (100 * share, 100 * refused))
            print("drop %3d/%-3d %2d %% lost: %s" % (rate, burst, round(100 * loss), " | ".join(cells)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
