"""What the command line refuses, and why.

Each case runs the installed `synapsenet` command and expects: exit status 2, one line on
stderr that contains the message shown (naming what was wrong, in the command line's words),
no traceback, and no file left behind. Read the list top to bottom: it is the catalogue.

In the arguments, {tmp} is the case's own empty folder (the command runs there), {model} a
small trained xor model (2 inputs), and {int8} a copy of it whose first weights are int8.
`files` are written into {tmp} before the command runs ('name/': a folder).
"""

import numpy as np
import pytest
from conftest import needs_exe, refused, synapsenet

pytestmark = needs_exe


def case(why, args, message, files=None):
    return pytest.param(args, message, files or {}, id=why)


CASES = [
    # -- usage: commands and options --------------------------------------------------------
    case("unknown command", ["frobnicate"], "invalid choice: 'frobnicate'"),
    case("value not among the choices", ["train", "--hidden", "sigmoidd"],
         "invalid choice: 'sigmoidd'"),
    case("learning mode not among the choices", ["train", "--mode", "online"],
         "invalid choice: 'online'"),
    case("integer option given a word", ["train", "--epochs", "abc"],
         "invalid int value: 'abc'"),
    case("misspelt command: the nearest is suggested", ["trian"], "did you mean 'train'?"),
    case("misspelt choice: the nearest is suggested", ["train", "--optimizer", "adma"],
         "invalid choice: 'adma' (choose from 'sgd', 'momentum', 'nesterov', 'adam'); did you "
         "mean 'adam'?"),
    case("unknown option: the one it abbreviates is suggested", ["train", "--lr", "0.1"],
         "unknown option '--lr'; did you mean --learning-rate?"),
    case("unknown option: the one with the closest spelling", ["train", "--learnig-rate=0.1"],
         "unknown option '--learnig-rate'; did you mean --learning-rate?"),
    case("a config file's name on the command line", ["train", "--learning_rate", "0.1"],
         "did you mean --learning-rate?"),
    case("unknown option of another command", ["evaluate", "{model}", "--hardwre", "pcm"],
         "unknown option '--hardwre'; did you mean --hardware?"),
    case("unknown option with nothing close", ["train", "--frobnicate"],
         "unrecognized arguments: --frobnicate"),
    case("a prefix of several options (prefixes of one are accepted)", ["train", "--l", "3"],
         "ambiguous option: --l could match"),

    # -- training options out of range -----------------------------------------------------
    # (the library's messages, in the command line's words: --learning-rate, not learning_rate)
    case("learning rate not positive", ["train", "--learning-rate", "-1"],
         "--learning-rate must be a positive number, got -1.0"),
    case("zero epochs", ["train", "--epochs", "0"], "--epochs must be a positive integer"),
    case("zero batch size", ["train", "--batch-size", "0"],
         "--batch-size must be a positive integer"),
    case("momentum of 1 or more", ["train", "--optimizer", "momentum", "--momentum", "1.5"],
         "--momentum must be in [0, 1)"),
    case("Nesterov without momentum", ["train", "--optimizer", "nesterov", "--momentum", "0"],
         "--optimizer nesterov needs a momentum > 0"),
    case("negative weight decay", ["train", "--weight-decay", "-1"], "--weight-decay must be ≥ 0"),
    case("weight bound not positive", ["train", "--weight-bound", "-1"],
         "--weight-bound must be positive"),
    case("training noise out of range", ["train", "--train-noise", "20"],
         "--weight-noise must be in [0, 10)"),
    case("patience below one epoch", ["train", "--early-stopping", "--patience", "0"],
         "--patience must be a positive integer"),
    case("dropout of 1", ["train", "--dropout", "1"], "--dropout must be in [0, 1)"),
    case("layer size not a number", ["train", "--layers", "64,x"],
         "--layers must be comma-separated positive integers"),
    case("empty layer size ('2,,1' is not '2,1')", ["train", "--layers", "2,,1"],
         "got '2,,1': entry 2 is empty"),
    case("trailing comma in the layer sizes", ["train", "--layers", "8,"],
         "got '8,': entry 2 is empty"),
    case("zero-unit layer", ["train", "--layers", "8,0"],
         "entry 2 '0' is not a positive integer"),
    case("negative layer size", ["train", "--layers=-3"],
         "entry 1 '-3' is not a positive integer"),
    case("zero mini-batches (it took --batch-size as well)", ["train", "--n-batches", "0"],
         "--n-batches must be a positive integer"),
    case("zero samples drawn (it meant the default, 600)",
         ["train", "--dataset", "moons", "--n-samples", "0"], "--n-samples must be ≥ 1, got 0"),
    case("negative noise (scikit-learn's own error, status 1)",
         ["train", "--dataset", "moons", "--noise", "-1"], "--noise must be ≥ 0, got -1.0"),
    case("loss that needs another output", ["train", "--loss", "cross_entropy"],
         "needs a softmax output"),

    # -- reproduce ----------------------------------------------------------------------------
    case("a device NeuroSim did not benchmark", ["reproduce", "neurosim", "--devices",
                                                  "epiram,ecram"],
         "--devices: unknown device 'ecram'; valid: ag-si, taox-hfox, pcmo, alox-hfo2, "
         "gst-pcm, epiram, hzo-fefet, software"),
    case("zero epochs of the benchmark", ["reproduce", "neurosim", "--epochs", "0"],
         "--epochs must be ≥ 1, got 0"),
    case("an unknown benchmark", ["reproduce", "aihwkit"], "invalid choice: 'aihwkit'"),

    # -- data -------------------------------------------------------------------------------
    case("unknown dataset", ["train", "--dataset", "nope"], "unknown dataset 'nope'"),
    case("missing CSV file", ["train", "--dataset", "csv:/nonexistent/data.csv"],
         "cannot read '/nonexistent/data.csv'"),
    case("CSV value that is not a number", ["train", "--dataset", "csv:d.csv"],
         "line 3, column 'b' (2): 'oops' is not a number",
         {"d.csv": "a,b,label\n1,2,x\n3,oops,y\n"}),
    case("inputs of the wrong width", ["predict", "{model}", "in.csv"],
         "3 features per row but the model expects 2", {"in.csv": "1,2,3\n"}),

    # -- config files and run folders ------------------------------------------------------
    case("unknown option in a config file", ["train", "--config", "bad.toml"],
         "bad.toml': unknown option 'epochz'", {"bad.toml": "epochz = 3\n"}),
    case("wrong type in a config file", ["train", "--config", "bad.toml"],
         "option 'epochs': expected int", {"bad.toml": "epochs = 'three'\n"}),
    case("config file that is not TOML", ["train", "--config", "bad.toml"],
         "not valid TOML", {"bad.toml": "epochs = = 3\n"}),
    case("output file that is a folder", ["predict", "{model}", "in.csv", "-o", "out"],
         "'out': Is a directory", {"in.csv": "0,0\n", "out/": None}),
    case("run folder inside a file (found before training)",
         ["train", "--dataset", "xor", "--out", "f/run"],
         "run folder 'f/run' cannot be made: 'f' is a file", {"f": ""}),
    case("sweep folder that is a file", ["sweep", "{model}", "--vary", "adc_bits=4", "--out",
                                         "f"], "'f': File exists", {"f": ""}),
    case("resuming a folder that is no run", ["train", "--resume", "{tmp}"],
         "not a run folder"),
    case("resuming a folder that does not exist", ["train", "--resume", "{tmp}/nope"],
         "not a run folder (there is no such folder)"),
    case("checkpoints at a negative interval", ["train", "--checkpoint-every", "-1"],
         "--checkpoint-every must be ≥ 0 seconds, got -1.0"),
    # (a damaged checkpoint, a full disk, a folder another run is writing: test_cli_faults.py)

    # -- model files -----------------------------------------------------------------------
    case("missing model file", ["evaluate", "/nonexistent/model.safetensors"],
         "does not exist"),
    case("model file that is not safetensors", ["info", "m.safetensors"],
         "not a readable safetensors file", {"m.safetensors": "\x00" * 30}),
    case("integer weights in a model file", ["info", "{int8}"],
         "tensor 'layers.0.W' is int8; weights must be floating point"),

    # -- the chip ----------------------------------------------------------------------------
    case("unknown hardware parameter", ["sweep", "{model}", "--vary", "adc_bitz=2..4"],
         "unknown hardware parameter 'adc_bitz'"),
    case("descending range", ["sweep", "{model}", "--vary", "adc_bits=8..2"],
         "--vary adc_bits=8..2 is an empty range (A..B needs B ≥ A)"),
    case("a range of no values", ["sweep", "{model}", "--vary", "adc_bits=2:8:0"],
         "is an empty range (COUNT must be ≥ 1)"),
    case("values that are not numbers", ["sweep", "{model}", "--vary", "adc_bits=a,b"],
         "are not understood"),
    case("a parameter varied twice", ["sweep", "{model}", "--vary", "adc_bits=4", "--vary",
                                      "adc_bits=6"], "--vary adc_bits is given twice"),
    case("a grid of over a million cells", ["sweep", "{model}", "--vary", "adc_bits=2..11",
                                            "--vary", "read_noise=0:0.1:1000", "--vary",
                                            "prog_noise=0:0.1:101"],
         "the grid has 3,030,000 cells (10 adc_bits × 1000 read_noise × 101 prog_noise × 3 "
         "seed), more than 1,000,000; pass --yes to run it"),
    case("--seeds and a varied seed", ["sweep", "{model}", "--vary", "seed=0..3", "--seeds",
                                       "2"], "give --seeds N or --vary seed=…, not both"),
    case("no workers", ["sweep", "{model}", "--vary", "adc_bits=4", "--workers", "0"],
         "--workers must be ≥ 1, got 0"),
    case("a cluster address without Ray", ["sweep", "{model}", "--vary", "adc_bits=4",
                                           "--address", "127.0.0.1:6379"],
         "--address is the Ray cluster's: give it with --backend ray"),
    case("a study over an unknown training option",
         ["study", "--out", "s", "--vary", "learning_rat=0.1,1"],
         "unknown training option (did you mean 'learning_rate'?)"),
    case("a study over a value its option refuses",
         ["study", "--out", "s", "--vary", "learning_rate=1,-1", "--epochs", "1"],
         "the cell 'learning_rate=-1.0': --learning-rate must be a positive number"),
    case("--vary without values", ["sweep", "{model}", "--vary", "adc_bits"],
         "--vary needs NAME=VALUES"),
    case("--vary with an empty list", ["sweep", "{model}", "--vary", "adc_bits="],
         "--vary adc_bits= has no values (an empty range)"),
    case("a device with one level", ["sweep", "{model}", "--vary", "levels=1,2"],
         "levels must be ≥ 2"),
    case("a sweep over no samples (-5 dropped the last five)",
         ["sweep", "{model}", "--vary", "adc_bits=4", "--samples", "-5"],
         "--samples must be ≥ 1, got -5"),
    case("a benchmark on no threads", ["bench", "--threads", "0"], "--threads must be ≥ 1"),
    case("a benchmark on no configurations at once", ["reproduce", "neurosim", "--jobs", "0"],
         "--jobs must be ≥ 1, got 0"),
    case("a cost of an epoch trained on no samples",
         ["cost", "{model}", "--train-samples", "0"], "--train-samples must be ≥ 1, got 0"),
    case("unknown hardware preset", ["sweep", "{model}", "--vary", "adc_bits=4",
                                     "--hardware", "flash"], "unknown hardware 'flash'"),

    # -- a hardware file's [cost] table: refused alike by every command that reads the file --
    *[case(f"unknown cost constant in a hardware file ({args[0]})", args,
           "hardware config 'chip.toml' [cost]: unknown cost constant 'nodee'",
           {"chip.toml": 'preset = "pcm"\n[cost]\nnodee = "7nm"\n'})
      for args in (["train", "--dataset", "xor", "--hardware", "chip.toml"],
                   ["study", "--dataset", "xor", "--vary", "hardware=pcm,chip.toml", "--out",
                    "s"],
                   ["evaluate", "{model}", "--hardware", "chip.toml"],
                   ["sweep", "{model}", "--vary", "hardware=chip.toml"],
                   ["sweep", "{model}", "--vary", "adc_bits=4", "--hardware", "chip.toml"],
                   ["cost", "{model}", "--hardware", "chip.toml"])],
    case("a hardware file's [cost] that is not a table",
         ["train", "--dataset", "xor", "--hardware", "chip.toml"],
         "hardware config 'chip.toml': [cost] must be a table, got 3",
         {"chip.toml": 'preset = "pcm"\ncost = 3\n'}),
    case("an unknown node in a hardware file's [cost]",
         ["evaluate", "{model}", "--hardware", "chip.toml"],
         "hardware config 'chip.toml' [cost]: unknown technology node '3nm'",
         {"chip.toml": 'preset = "pcm"\n[cost]\nnode = "3nm"\n'}),
    case("a negative energy in a hardware file",
         ["train", "--dataset", "xor", "--hardware", "chip.toml"],
         "hardware config 'chip.toml': [energy] read_voltage must be ≥ 0 and finite, got -0.2",
         {"chip.toml": 'preset = "pcm"\n[energy]\nread_voltage = -0.2\n'}),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A small trained xor model, and a copy with int8 weights."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    out = tmp_path_factory.mktemp("models")
    p = synapsenet("train", "--dataset", "xor", "--layers", "2", "--epochs", "2",
                   "--out", out / "run", "-q", "--no-plots")
    assert p.returncode == 0, p.stderr
    model = out / "run" / "model.safetensors"
    with safe_open(str(model), framework="np") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    tensors["layers.0.W"] = np.ones_like(tensors["layers.0.W"], np.int8)
    save_file(tensors, str(out / "int8.safetensors"), metadata=meta)
    return {"model": model, "int8": out / "int8.safetensors"}


@pytest.mark.parametrize("args,message,files", CASES)
def test_refused_with_one_line_and_status_2(args, message, files, tmp_path, models):
    for name, text in files.items():  # 'name/': a folder
        (tmp_path / name).mkdir() if name.endswith("/") else (tmp_path / name).write_text(text)
    args = [a.format(tmp=tmp_path, **models) for a in args]
    if args[0] == "train" and "--resume" not in args and "--out" not in args:
        args += ["--out", str(tmp_path / "run")]
    refused(synapsenet(*args, cwd=tmp_path), message)
    left = sorted(f.name for f in tmp_path.iterdir())
    assert left == sorted(n.rstrip("/") for n in files)  # nothing left behind
