"""Training on the chip against IBM's aihwkit 1.2.0, the same networks on the same devices.

Two workloads, each timed in this run for both simulators:

* NeuroSim V3.0's protocol: a 400-100-10 sigmoid network without biases on the central
  20×20 pixels of MNIST in black and white, one epoch of 8,000 images at batch 1 (SGD), then
  the 10,000-image test. synapsenet runs it as ``synapsenet reproduce neurosim`` does
  (``hardware.reproduce.run_one``: deterministic pulse counts, a device against a
  reference column, 1-bit inputs, 8-bit ADCs), and once more with aihwkit's stochastic pulse
  trains (BL up to 31).
* MNIST 784-256-10 (sigmoid hidden, softmax and cross-entropy), one epoch at batch 64, the
  stochastic scheme in both (aihwkit's default ``StochasticCompressed`` update with its
  update management: each sample's trains as long as its largest update needs, up to 31
  slots; synapsenet's ``learning.adaptive_pulse_length``, on by default).

The devices are aihwkit's ``ConstantStepDevice`` with its default parameters (dw_min 0.001,
±0.6 bounds, 30 % cycle-to-cycle and device-to-device spreads), in both simulators. In the
MNIST workload the periphery is aihwkit's default too, in both: a 7-bit input DAC with
abs-max input scaling, a 9-bit output ADC of ±12 and output noise σ 0.06 (aihwkit's units of
weight × input; synapsenet's are those of a full-scale weight, 0.6, so ±20 and 0.1), in the
forward and the backward read. aihwkit's iterative bound management (a saturated read repeated
with smaller inputs) has no counterpart: synapsenet's ADC saturates. aihwkit
runs in an interpreter of its own (``--aihwkit PYTHON`` or ``SYNAPSENET_AIHWKIT_PYTHON``; see
the README beside the wheel), in its own process; without one, only synapsenet's figures are
printed, and the script says so. Thread counts: ``--threads`` for both (BLAS and torch); the
batch-1 protocol runs on one thread in synapsenet, as the command does.

    python benchmarks/bench_aihwkit.py [--data-dir ../shared/data] [--aihwkit PYTHON]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

# aihwkit's ConstantStepDevice() defaults (aihwkit 1.2.0, simulator/configs/devices.py)
CONSTANT_STEP = dict(dw_min=0.001, up_down=0.0, dw_min_std=0.3, dw_min_dtod=0.3,
                     up_down_dtod=0.01, w_max=0.6, w_min=-0.6, w_max_dtod=0.3, w_min_dtod=0.3)
# aihwkit's default IOParameters (inp_res 1/126, out_res 1/510, out_bound 12, out_noise 0.06,
# noise management abs_max) in synapsenet's units, those of a full-scale weight (0.6)
PERIPHERY = {"io.dac_bits": 7, "io.adc_bits": 9, "io.adc_range": 12.0 / 0.6,
             "io.out_noise": 0.06 / 0.6, "io.input_scaling": "abs_max"}

AIHWKIT = textwrap.dedent('''
    import json, sys, time
    import numpy as np, torch
    from torch import nn
    from aihwkit.nn import AnalogLinear, AnalogSequential
    from aihwkit.optim import AnalogSGD
    from aihwkit.simulator.configs import SingleRPUConfig
    from aihwkit.simulator.configs.devices import ConstantStepDevice
    import aihwkit
    args = json.loads(sys.argv[1])
    torch.set_num_threads(args["threads"])
    torch.manual_seed(0)
    data = np.load(args["data"])
    cfg = SingleRPUConfig(device=ConstantStepDevice())
    out = {"version": aihwkit.__version__, "torch": torch.__version__}

    def net(sizes, bias, last):
        layers = []
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            layers.append(AnalogLinear(a, b, bias=bias, rpu_config=cfg))
            layers.append(nn.Sigmoid() if i < len(sizes) - 2 or last else nn.Identity())
        model = AnalogSequential(*layers)
        opt = AnalogSGD(model.parameters(), lr=args["lr"])
        opt.regroup_param_groups(model)
        return model, opt

    # NeuroSim's protocol: batch-1 SGD on squared error, then the test
    X, y, Xt = (torch.tensor(data[k]) for k in ("ns_X", "ns_y", "ns_Xt"))
    model, opt = net([400, 100, 10], False, True)
    D = nn.functional.one_hot(y, 10).float()
    t = time.perf_counter()
    for i in range(len(X)):
        opt.zero_grad()
        loss = ((model(X[i:i + 1]) - D[i:i + 1]) ** 2).sum() / 2
        loss.backward()
        opt.step()
    with torch.no_grad():
        model(Xt).argmax(1)
    out["neurosim_s"] = time.perf_counter() - t

    # MNIST 784-256-10 at batch 64, cross-entropy
    X, y = torch.tensor(data["mn_X"]), torch.tensor(data["mn_y"])
    model, opt = net([784, 256, 10], True, False)
    lossf = nn.CrossEntropyLoss()
    t = time.perf_counter()
    for s in range(0, len(X), 64):
        opt.zero_grad()
        lossf(model(X[s:s + 64]), y[s:s + 64]).backward()
        opt.step()
    out["mnist_samples_per_s"] = len(X) / (time.perf_counter() - t)
    model.eval()
    with torch.no_grad():
        pred = model(torch.tensor(data["mn_Xt"])).argmax(1).numpy()
    out["mnist_accuracy"] = float((pred == data["mn_yt"]).mean())
    print(json.dumps(out))
''')


def law_file(folder: Path) -> str:
    path = folder / "constant-step.toml"
    path.write_text('law = "constant_step"\nname = "aihwkit-constant-step"\n' +
                    "".join(f"{k} = {v}\n" for k, v in CONSTANT_STEP.items()))
    return str(path)


def ours_neurosim(data, device, scheme):
    from synapsenet.hardware import reproduce as rp

    protocol = rp.Protocol(epochs=1)
    original = rp.hardware_config
    if scheme != "deterministic":  # reproduce's chip, its scheme changed
        rp.hardware_config = lambda dev, protocol=protocol: original(dev, protocol).replace(
            **{"learning.scheme": scheme})
    try:
        t = time.perf_counter()
        rec = rp.run_one(device, data, protocol)
        return time.perf_counter() - t, rec["accuracy"][-1]
    finally:
        rp.hardware_config = original


def ours_mnist(X, y, device, threads, test=None):
    """Samples a second of one epoch at batch 64 (and the test accuracy after it, on
    ``test`` = (X, y) if given)."""
    import synapsenet as sn
    from synapsenet import hardware

    cfg = hardware.load_config("ideal").replace(**{
        "learning.device": device, "learning.scheme": "stochastic",
        "learning.synapse": "reference", "learning.weight_max": 0.6, **PERIPHERY})
    chip = hardware.deploy(sn.Network.from_sizes([784, 256, 10], hidden="sigmoid",
                                                 output="softmax", seed=0), cfg, seed=0,
                           threads=threads)
    from threadpoolctl import threadpool_limits

    t = time.perf_counter()
    with threadpool_limits(threads):
        chip.fit(X, y, epochs=1, learning_rate=0.1, loss="cross_entropy", mode="minibatch",
                 batch_size=64, seed=0)
        rate = len(X) / (time.perf_counter() - t)
        return rate, None if test is None else chip.evaluate(*test)["accuracy"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="../shared/data", help="folder with the MNIST files")
    p.add_argument("--threads", type=int, default=2, help="threads for both (default 2)")
    p.add_argument("--samples", type=int, default=60000,
                   help="MNIST samples of the batch-64 epoch (default all 60,000)")
    p.add_argument("--aihwkit", default=os.environ.get("SYNAPSENET_AIHWKIT_PYTHON"),
                   help="a Python interpreter with aihwkit 1.2.0 installed")
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args()

    from _common import mnist
    from synapsenet.hardware import reproduce as rp

    ns = rp.load_data(a.data_dir)
    pick = np.random.default_rng(0).integers(0, len(ns[0]), rp.Protocol.images_per_epoch)
    ns_X, ns_y = ns[0][pick], ns[1][pick]
    X, y, Xt, yt = mnist(a.data_dir)
    X, y = X[:a.samples], y[:a.samples]
    out = {"threads": a.threads, "cpus": os.cpu_count(), "constant_step": CONSTANT_STEP}
    with tempfile.TemporaryDirectory() as tmp:
        device = law_file(Path(tmp))
        if a.aihwkit:
            path = Path(tmp) / "data.npz"
            np.savez(path, ns_X=ns_X, ns_y=ns_y, ns_Xt=ns[2], mn_X=X, mn_y=y, mn_Xt=Xt,
                     mn_yt=yt)
            args = json.dumps({"data": str(path), "threads": a.threads, "lr": 0.1})
            run = subprocess.run([a.aihwkit, "-c", AIHWKIT, args], capture_output=True,
                                 text=True, check=False)
            if run.returncode:
                sys.exit(f"aihwkit failed:\n{run.stderr[-2000:]}")
            out["aihwkit"] = json.loads(run.stdout.strip().splitlines()[-1])
        else:
            print("no aihwkit interpreter given (--aihwkit or SYNAPSENET_AIHWKIT_PYTHON): "
                  "synapsenet's figures only")
        data = (ns_X, ns_y, ns[2], ns[3])
        for scheme in ("deterministic", "stochastic"):
            s, acc = ours_neurosim(data, device, scheme)
            out[f"neurosim_{scheme}_s"], out[f"neurosim_{scheme}_accuracy"] = s, acc
        out["mnist_samples_per_s"], out["mnist_accuracy"] = ours_mnist(
            X, y, device, a.threads, test=(Xt, yt))

    ak = out.get("aihwkit", {})
    print(f"ConstantStep devices (aihwkit's defaults); {a.threads} thread(s), "
          f"{os.cpu_count()} CPU(s)" + (f"; aihwkit {ak['version']}, torch {ak['torch']}"
                                         if ak else ""))
    for scheme in ("deterministic", "stochastic"):
        s = out[f"neurosim_{scheme}_s"]
        line = f"NeuroSim protocol epoch + test, {scheme:>13}: {s:6.2f} s"
        if ak:
            line += f"  aihwkit {ak['neurosim_s']:6.2f} s  ×{ak['neurosim_s'] / s:.2f}"
        print(line)
    r = out["mnist_samples_per_s"]
    line = f"MNIST 784-256-10, batch 64, stochastic:     {r:8,.0f} samples/s"
    if ak:
        line += f"  aihwkit {ak['mnist_samples_per_s']:8,.0f}  ×{r / ak['mnist_samples_per_s']:.2f}"
    print(line)
    line = f"  test accuracy after the epoch: {out['mnist_accuracy']:.4f}"
    if ak:
        line += f"  aihwkit {ak['mnist_accuracy']:.4f}"
    print(line)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
