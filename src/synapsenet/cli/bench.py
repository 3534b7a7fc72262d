"""``synapsenet bench``: training and inference throughput against peers
(the method is :mod:`synapsenet.bench`)."""

from __future__ import annotations

import json

from .. import bench as measure
from . import flags


def add_parser(sub):
    b = sub.add_parser("bench", help="training and inference throughput against peers",
                       description=measure.__doc__.split("\n\n")[0])
    b.add_argument("--threads", type=int, default=2, help="BLAS and PyTorch threads (default 2)")
    b.add_argument("--samples", type=int, default=20000, help="training samples per pass")
    b.add_argument("--quick", action="store_true", help="only 784-256-10 at batch 64 and 256")
    b.add_argument("--data-dir", help="MNIST folder (else random pixels)")
    b.add_argument("--json", metavar="FILE", help="write the results as JSON")


def run(args) -> int:
    flags.check_counts(args, "threads", "samples")
    res = measure.run(args.threads, args.samples, args.quick, args.data_dir)
    for key, what in (("", res["data"]), ("_dense_inputs", "random pixels, no zeros")):
        inf = res["inference_batch_10000" + key]
        line = f"inference, batch 10,000, {what}: synapsenet {inf['synapsenet']:,.0f}/s"
        if "pytorch" in inf:
            line += f" | pytorch {inf['pytorch']:,.0f}/s ×{inf['ratio_pytorch']:.2f}"
        print(line)
    print(f"threads {res['machine']['threads']}; {'; '.join(res['machine']['blas'])}")
    mem = res["mnist_training_memory"]
    if mem:
        print(f"MNIST training (one epoch, own process): peak RSS {mem['peak_rss_mb']:.0f} MB; "
              f"the training set as float32 is {mem['train_set_float32_mb']:.0f} MB")
    if args.json:
        from ..files import atomic_write_text

        atomic_write_text(args.json, json.dumps(res, indent=2) + "\n")
    return 0
