"""MNIST and Fashion-MNIST: find the original IDX files, or download and verify them.

Where the files are looked for, in order:

1. the folder passed as ``data_dir`` (the CLI's ``--data-dir``);
2. the folder in the environment variable ``SYNAPSENET_DATA``;
3. the user cache, ``$XDG_CACHE_HOME/synapsenet`` or ``~/.cache/synapsenet``;

each first in a sub-folder named after the set (``mnist/``, ``fashion-mnist/``), then directly,
as ``NAME.gz`` or uncompressed ``NAME``. MNIST and Fashion-MNIST use the same file names: a
folder holding the other set's files (recognised by checksum) is passed over, never reported
as damaged, and named if the set is not found elsewhere. If no folder has them, they are
downloaded from the public mirrors into the cache, with a progress bar, and verified by
SHA-256 before use.
``SYNAPSENET_MIRRORS`` (space-separated base URLs) replaces the built-in mirror list.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from ..errors import DataError
from .idx import FILES, read_idx_pair

# SHA-256 of each file, gzip-compressed (as distributed) and uncompressed.
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        "train-labels-idx1-ubyte": (
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        "t10k-images-idx3-ubyte": (
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        "t10k-labels-idx1-ubyte": (
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": (
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        "train-labels-idx1-ubyte": (
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        "t10k-images-idx3-ubyte": (
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        "t10k-labels-idx1-ubyte": (
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    },
}

MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                      "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
                      "data/fashion/"],
}

CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"],
}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "synapsenet"


def search_dirs(name: str, data_dir=None) -> list[Path]:
    """The folders searched for ``name``'s files, in order."""
    roots = [Path(p) for p in (data_dir, os.environ.get("SYNAPSENET_DATA")) if p]
    roots.append(cache_dir())
    out = []
    for r in roots:
        out += [r / name, r]
    return out


def _four_files(d: Path) -> dict[str, Path] | None:
    """The four files in folder ``d`` (``NAME.gz`` preferred to ``NAME``), or None."""
    found = {}
    for f in FILES:
        cand = next((p for p in (d / f"{f}.gz", d / f) if p.is_file()), None)
        if cand is None:
            return None
        found[f] = cand
    return found


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def identify(fname: str, path, digest: str | None = None) -> str | None:
    """Which published set ``path`` is the file ``fname`` of (by SHA-256), or None."""
    digest = digest or sha256_file(path)
    return next((n for n, table in SHA256.items() if digest in table[fname]), None)


def _find(name: str, dirs) -> dict[str, Path] | None:
    """The first folder of ``dirs`` with the four files, skipping folders whose training
    labels are another published set's (a quick look: the labels file is the smallest)."""
    for d in dirs:
        found = _four_files(d)
        if found is None:
            continue
        owner = identify(FILES[1], found[FILES[1]])
        if owner is None or owner == name:
            return found
    return None


def find(name: str, data_dir=None) -> dict[str, Path] | None:
    """Where ``name``'s files would be read from (unverified), or None if not found."""
    return _find(name, search_dirs(name, data_dir))


def _in_cache(path: Path) -> bool:
    try:
        Path(path).resolve().relative_to(cache_dir().resolve())
        return True
    except ValueError:
        return False


def verify(name: str, fname: str, path: Path) -> None:
    """Check a file against the published SHA-256 (compressed or uncompressed form).

    A file that is another set's (MNIST's in Fashion-MNIST's place: the names are the same)
    is named as such; only a damaged copy in synapsenet's own cache is to be deleted."""
    digest = sha256_file(path)
    if digest in SHA256[name][fname]:
        return
    owner = identify(fname, path, digest)
    if owner is not None:
        up = Path(path).parent.parent
        raise DataError(f"{str(path)!r} is the published {owner} file {fname}, not {name}'s "
                        f"(the sets use the same file names); keep each set in a folder of its "
                        f"own, such as {up / owner}/ and {up / name}/")
    advice = ("Delete it and load again to re-download." if _in_cache(path) else
              f"Replace it with the published file; to train on IDX files of your own, use "
              f"idx:{Path(path).parent}")
    raise DataError(f"{str(path)!r} does not match the published {name} file {fname}: "
                    f"SHA-256 {digest[:16]}… is neither the compressed nor the uncompressed "
                    f"checksum (of {name}, nor of any other set known). {advice}")


def download(name: str, dest: Path, mirrors=None, progress=None, timeout=30.0) -> dict[str, Path]:
    """Download the four files of ``name`` into ``dest``, verifying each; returns their paths.

    Each file is written to a temporary file and renamed only once its checksum matches.
    ``progress(fname, done_bytes, total_bytes)`` is called as data arrives.
    """
    env = os.environ.get("SYNAPSENET_MIRRORS")
    mirrors = mirrors or (env.split() if env else MIRRORS[name])
    dest.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fname in FILES:
        target = dest / f"{fname}.gz"
        if target.is_file():
            owner = identify(fname, target)
            if owner == name:
                paths[fname] = target
                continue
            if owner is not None:  # another set's file: not ours to replace
                verify(name, fname, target)
            target.unlink()  # a damaged or partial copy in the download folder
        errors = []
        for base in mirrors:
            url = base.rstrip("/") + f"/{fname}.gz"
            try:
                _fetch(url, target, SHA256[name][fname][0], fname, progress, timeout)
                paths[fname] = target
                break
            except (OSError, DataError, urllib.error.URLError) as e:
                errors.append(f"{url}: {getattr(e, 'reason', None) or e}")
        else:
            raise DataError(f"could not download {name} file {fname}.gz; tried:\n  " +
                            "\n  ".join(errors) + "\n" + _where_to_put(name))
    return paths


def _fetch(url, target: Path, sha256: str, fname, progress, timeout):
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while chunk := resp.read(1 << 16):
                out.write(chunk)
                h.update(chunk)
                done += len(chunk)
                if progress:
                    progress(fname, done, total)
            if total and done != total:
                raise DataError(f"transfer broken off after {done} of {total} bytes")
        if h.hexdigest() != sha256:  # verified before it takes the file's name
            raise DataError(f"checksum mismatch: got SHA-256 {h.hexdigest()[:16]}…, "
                            f"expected {sha256[:16]}…")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _where_to_put(name: str) -> str:
    names = ", ".join(f"{f}.gz" for f in FILES)
    return (f"Put the four {name} files ({names}) in a folder of their own and pass it, or its "
            f"parent holding it as {name}/, with --data-dir (or set SYNAPSENET_DATA), or place "
            f"them in {cache_dir() / name}.")


def locate(name: str, data_dir=None, allow_download=True, progress=None) -> dict[str, Path]:
    """Paths of the four files, found locally (verified by checksum) or downloaded.

    A folder holding another published set's files (MNIST's where Fashion-MNIST's were
    looked for: the names are the same) is passed over and named if nothing else is found;
    then nothing is downloaded, since the folder given was meant to hold the set."""
    if name not in SHA256:
        raise DataError(f"unknown IDX dataset {name!r}; known: {', '.join(SHA256)}")
    if data_dir is not None and not Path(data_dir).is_dir():
        raise DataError(f"--data-dir {str(data_dir)!r} is not a folder")
    others = []
    for d in search_dirs(name, data_dir):
        found = _four_files(d)
        if found is None:
            continue
        owners = {f: identify(f, p) for f, p in found.items()}
        if all(o == name for o in owners.values()):
            return found
        kinds = set(owners.values())
        if len(kinds) == 1 and None not in kinds:
            note = (f"{d} holds the {kinds.pop()} files (recognised by their checksums), "
                    f"not {name}'s")
            if _four_files(d.parent / name) is not None:
                note += (f" (the folder {d.parent / name} beside it has files of the same names:"
                         f" --data-dir {d.parent} would look there first)")
            others.append(note)
            continue
        bad = next(f for f, o in owners.items() if o != name)
        verify(name, bad, found[bad])  # raises: a damaged copy, or one of another set
    if others:
        raise DataError(f"{name} files not found: {'; '.join(others)}. " + _where_to_put(name))
    if not allow_download:
        where = ", ".join(map(str, search_dirs(name, data_dir)))
        raise DataError(f"{name} files not found in {where}. " + _where_to_put(name))
    return download(name, cache_dir() / name, progress=progress)


def load_idx_dataset(name: str, data_dir=None, allow_download=True, progress=None):
    """(X_train, y_train, X_test, y_test): images flattened to 784 uint8 features."""
    paths = locate(name, data_dir, allow_download, progress)
    Xtr, ytr = read_idx_pair(paths[FILES[0]], paths[FILES[1]])
    Xte, yte = read_idx_pair(paths[FILES[2]], paths[FILES[3]])
    return (Xtr.reshape(len(Xtr), -1), ytr.astype(np.int64),
            Xte.reshape(len(Xte), -1), yte.astype(np.int64))


__all__ = ["locate", "find", "identify", "download", "load_idx_dataset", "cache_dir", "verify"]
