"""What the benchmark scripts share: their command line and their MNIST."""

import argparse

import numpy as np


def parse_args(doc: str):
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--data-dir", default="../shared/data", help="folder with the MNIST files")
    p.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    p.add_argument("--json", help="also write the results here")
    return p.parse_args()


def mnist(data_dir):
    """(X_train, y_train, X_test, y_test), pixels ÷ 255 as float32; never downloads."""
    import synapsenet as sn

    ds = sn.datasets.load("mnist", data_dir=data_dir, allow_download=False)
    return ds.X / np.float32(255), ds.y, ds.X_test / np.float32(255), ds.y_test
