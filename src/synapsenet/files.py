"""Filesystem helpers: atomic writes, files put in place together, folder locks, TOML
reading, JSON for NumPy values.

Every file synapsenet writes goes through :func:`atomic_write_bytes` (a temporary file in the
same folder, then a rename), so a crash never leaves a half-written file under its final name.
Temporary files are named ``.NAME.XXXXXXXX.tmp`` (:func:`is_temporary`): a process killed while
writing (SIGKILL, power loss) leaves at most such a file, which the next writer of the folder
may remove (:func:`remove_temporaries`). :class:`Staged` writes several files and puts them in
place together; :func:`lock_folder` keeps two processes from writing one folder at once.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import ConfigError, InUseError

_TMP = ".tmp"


def error_inside(e: OSError, folder) -> bool:
    """Whether the file an OSError names lies in ``folder`` (a failed write of ours, not of
    something elsewhere)."""
    where = e.filename2 if e.filename2 is not None else e.filename
    try:
        return where is not None and Path(where).resolve().is_relative_to(Path(folder).resolve())
    except (OSError, ValueError):
        return False


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and an atomic rename. An OSError names
    ``path``, not the temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write_via_temporary(path, data)
    except OSError as e:
        if e.errno is None or e.filename == str(path):
            raise
        raise type(e)(e.errno, e.strerror, str(path)) from e


def _write_via_temporary(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TMP, dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def is_temporary(name: str, of=None) -> bool:
    """Whether file ``name`` is one of our temporary files (of a file in ``of``, if given;
    a temporary file's own temporary, ``..NAME.X.tmp.Y.tmp``, is one of NAME's)."""
    if not (name.startswith(".") and name.endswith(_TMP)):
        return False
    return of is None or any(name.lstrip(".").startswith(f"{n}.") for n in of)


def remove_temporaries(folder, of) -> None:
    """Remove the temporary files that a killed writer left in ``folder`` for the files named
    in ``of``. Only for a folder this process has locked: another writer's are in use."""
    for p in Path(folder).iterdir():
        if is_temporary(p.name, of):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def fsync_folder(folder) -> None:
    """Make the renames in ``folder`` durable (where the system allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Staged:
    """Files of one folder written under temporary names first, then put in place together
    by :meth:`commit`: until then, and if anything fails (the context ends with an error),
    the final names are untouched and the temporary files are removed.

    >>> with Staged(folder) as s:                                          # doctest: +SKIP
    ...     s.write_bytes("a.json", b"{}")
    ...     with s.file("b.png") as p:   # for writers that take a path
    ...         figure.savefig(p)
    ...     s.commit(last="a.json")
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self._files: dict[str, Path] = {}  # final name → its temporary file
        self.committed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.discard()

    @contextlib.contextmanager
    def file(self, name: str):
        """A temporary path to write ``name`` to; an OSError names ``name``'s final path."""
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=_TMP, dir=self.folder)
        os.close(fd)
        previous = self._files.pop(name, None)
        self._files[name] = Path(tmp)
        if previous is not None:
            previous.unlink(missing_ok=True)
        final = self.folder / name
        try:
            yield Path(tmp)
        except OSError as e:
            if e.errno is None or e.filename == str(final):
                raise
            raise type(e)(e.errno, e.strerror, str(final)) from e

    def write_bytes(self, name: str, data: bytes) -> None:
        with self.file(name) as tmp:
            atomic_write_bytes(tmp, data)

    def write_text(self, name: str, text: str) -> None:
        self.write_bytes(name, text.encode("utf-8"))

    @property
    def names(self) -> list[str]:
        return list(self._files)

    def commit(self, last: str | None = None) -> None:
        """Rename every file into place (``last`` after the others: its presence then says
        the others are there) and make the renames durable."""
        order = sorted(self._files, key=lambda n: n == last)
        for name in order:
            os.replace(self._files[name], self.folder / name)
            del self._files[name]
        fsync_folder(self.folder)
        self.committed = True

    def discard(self) -> None:
        """Remove the temporary files not yet committed."""
        for tmp in self._files.values():
            tmp.unlink(missing_ok=True)
        self._files.clear()


def lock_folder(folder, what="folder"):
    """Lock ``folder`` (which exists) for this process: an exclusive ``flock`` on the folder
    itself, so no lock file is left behind, and the system releases it when the process ends,
    however it ends (a lock cannot go stale). Returns the lock (pass it to
    :func:`unlock_folder`); raises :class:`InUseError` if another process holds it. Where the
    system has no ``flock`` or the filesystem refuses it, returns None: unlocked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not a POSIX system
        return None
    while True:
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InUseError(f"{what} {str(folder)!r} is in use by another process") from None
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.ENOLCK, errno.EINVAL, errno.EBADF, errno.ENOTSUP):
                return None  # a filesystem without locks (some network ones)
            raise
        try:  # the folder may have been removed, and another made, since we opened it
            same = os.path.samestat(os.fstat(fd), os.stat(folder))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
        if not Path(folder).is_dir():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(folder))


def unlock_folder(lock) -> None:
    if lock is not None:
        os.close(lock)  # closing the last descriptor releases the flock


def read_toml(path, what="config") -> dict:
    """A TOML file as a dict; unreadable or invalid files raise ConfigError naming the file."""
    import tomllib

    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as e:
        raise ConfigError(f"cannot read {what} {str(path)!r}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{what} {str(path)!r} is not valid TOML: {e}") from None


def jsonable(o):
    """JSON for NumPy scalars and arrays and paths (``json.dumps(default=...)``)."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")
