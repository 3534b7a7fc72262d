"""Training and inference throughput against PyTorch, scikit-learn and the GEMM roofline.

    python benchmarks/bench_training.py [--threads 2] [--data-dir ../shared/data] [--json out.json]

Thin wrapper over `synapsenet bench` (src/synapsenet/bench.py), where the method is described.
"""

import sys

from synapsenet.bench import add_command, run_cli

if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd")
    add_command(sub)
    sys.exit(run_cli(p.parse_args(["bench"] + sys.argv[1:])))
