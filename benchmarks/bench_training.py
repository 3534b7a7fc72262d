"""Training and inference throughput against PyTorch, scikit-learn and the GEMM roofline.

    python benchmarks/bench_training.py [--threads 2] [--data-dir ../shared/data] [--json out.json]

The same as `synapsenet bench` (the method is described in src/synapsenet/bench.py).
"""

import sys

from synapsenet.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
