"""Where a report goes, checked before simulating, and how it is swapped in whole.

A run's report folder is never written in place. The files go into a fresh staging folder
beside it (``.<name>.<random>.partial``), created before the simulation starts so that an
unusable place fails at once; once every file is written, the staging folder takes the
folder's place in one ``rename`` (an atomic exchange on Linux). An interruption or a crash
therefore leaves the earlier report or the new one, never a mix of both, and a later run
never leaves an earlier run's files (``outputs.npz`` of a functional run) beside its own.

Rules (each broken rule is an :class:`OutputError` naming the option or field and the fix):

- the folder's last component is not a symbolic link, and neither is anything inside it: a
  link is never followed, so a run cannot overwrite the file a link points to;
- an existing folder is empty or holds only report files (:data:`REPORT_FILES`): since it is
  replaced whole, socsim refuses to replace anything it did not write;
- the folder is not the working directory or one of its parents;
- ``run.out`` resolves against the scenario file, like every other path in it; ``--out``
  against the working directory; the default is ``reports/<scenario name>``, and the name must
  be a plain file-name component.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from socsim.errors import Problem, SocsimError

REPORT_ORDER = ("summary.json", "ops.csv", "ops.parquet", "transfers.csv", "trace.json",
                "timeline.png", "energy.png", "outputs.npz")
"""The files of a report, in the order they are written: the op table as ops.csv or
ops.parquet (``run.ops_table``), trace.json unless ``run.trace: false``, outputs.npz for
functional runs."""

REPORT_FILES = frozenset(REPORT_ORDER)
"""Every file a report folder may hold; an existing folder with anything else is refused."""


def report_names(functional: bool, ops_table: str = "csv", trace: bool = True) -> list[str]:
    """The files a report holds, in writing order.

    Args:
        functional: outputs.npz is written (a functional run).
        ops_table: ``csv``, ``parquet`` or ``none`` (``run.ops_table``).
        trace: trace.json is written (``run.trace`` is not false).
    """
    skip = {"outputs.npz"} if not functional else set()
    skip |= {"ops.csv", "ops.parquet"} - {f"ops.{ops_table}"}
    if not trace:
        skip.add("trace.json")
    return [n for n in REPORT_ORDER if n not in skip]

_STAGING_SUFFIX = ".partial"


class OutputError(SocsimError):
    """The report folder cannot be used: a file, a link, foreign files, or not writable."""


def resolve_folder(cli_out: str | None, *, name: str, run_out: str | None,
                   scenario_file: str | Path | None, locate=None) -> Path:
    """The report folder of a run, absolute, not yet checked (see :func:`check_folder`).

    Args:
        cli_out: the ``--out`` option as typed (``None`` when absent).
        name: the scenario's name (a plain file name: socsim.config.scenario.NAME_PATTERN).
        run_out: the scenario's ``run.out`` as written.
        scenario_file: the scenario file ``run.out`` is relative to (``None``: the working
            directory, for a scenario built in Python).
        locate: the scenario document's ``locate``, for ``run.out`` messages.

    Raises:
        OutputError: ``--out`` or ``run.out`` is empty, or the name is not a file name.
    """
    if cli_out is not None:
        if not str(cli_out).strip():
            raise OutputError("--out: empty path; give the report folder, e.g. "
                              "--out reports/run1")
        return Path(os.path.abspath(os.path.expanduser(cli_out)))
    if run_out is not None:
        if not run_out.strip():
            message = "empty path; give the report folder (relative to this file) or remove it"
            raise OutputError(locate(("run", "out"), message) if locate else
                              Problem(message, str(scenario_file), path="run.out"))
        base = Path(scenario_file).parent if scenario_file is not None else Path.cwd()
        return Path(os.path.abspath(base / os.path.expanduser(run_out)))
    return Path(os.path.abspath(Path("reports") / name))


_FIELDS = {"run.out": ("run", "out"), "name": ("name",)}


def _problem(message: str, option: str, locate=None) -> Problem:
    """``message`` under the option or field that chose the folder, with the scenario's
    file:line:col when the folder came from the file (``run.out`` or ``name``)."""
    if locate is not None and option in _FIELDS:
        return locate(_FIELDS[option], message)
    return Problem(message, path=option)


def check_folder(folder: Path, option: str = "--out", locate=None) -> None:
    """Refuse a report folder that cannot be replaced whole without losing anything.

    Args:
        folder: the absolute report folder.
        option: how the user chose it (``--out``, ``run.out`` or ``name``), for messages.
        locate: the scenario document's ``locate``, to give file:line:col for a field.

    Raises:
        OutputError: the folder is a file or a link, holds links or files that are not a
            report, is the working directory or a parent of it, or sits under a file.
    """
    other = f"choose another folder with {option}" if option == "--out" else \
        f"choose another folder with --out (or change {option})"
    try:
        _check_folder(folder, other, lambda m: _problem(m, option, locate))
    except OSError as exc:  # a name too long, a loop of links, a folder we may not read
        raise OutputError(_problem(f"{folder}: cannot write here: {exc.strerror or exc}",
                                   option, locate), hint=other) from None


def _check_folder(folder: Path, other: str, problem) -> None:
    def fail(message: str, hint: str) -> None:
        raise OutputError(problem(f"{folder}: {message}"), hint=hint)

    if folder.is_symlink():
        fail("is a symbolic link; socsim never writes through links", other)
    cwd = Path.cwd().resolve()
    if folder == cwd or folder in cwd.parents or folder.parent == folder:
        fail("is the working directory or one of its parents; a report folder is replaced "
             "whole", other)
    for parent in folder.parents:
        if parent.exists() and not parent.is_dir():
            fail(f"{parent} is a file, not a folder", other)
        if parent.exists():
            break
    if not folder.exists():
        return
    if not folder.is_dir():
        fail("exists and is a file; the report is a folder", other)
    entries = sorted(os.scandir(folder), key=lambda e: e.name)
    links = [e.name for e in entries if e.is_symlink()]
    if links:
        fail(f"holds symbolic links ({', '.join(links)}); socsim never follows them and will "
             "not delete them", f"remove the links or {other}")
    foreign = [e.name + ("/" if e.is_dir() else "") for e in entries
               if e.name not in REPORT_FILES or not e.is_file()]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5
                                          else "")
        fail(f"holds files that are not a socsim report ({shown}); the folder is replaced "
             "whole, so socsim will not write there", f"move them away or {other}")


class ReportFolder:
    """A checked report folder and the staging folder its report is written into.

    Use :meth:`staging` around everything that produces the report::

        folder = ReportFolder(path)            # checked: raises OutputError
        with folder.staging() as tmp:          # created beside it, before the simulation
            ...write files into tmp...
        # here the report is in place; on an exception the earlier folder is untouched

    Args:
        path: the absolute report folder.
        option: what chose it (``--out``, ``run.out`` or ``name``), for messages.
        locate: the scenario document's ``locate``, so that messages about ``run.out`` or
            ``name`` carry file:line:col.

    Raises:
        OutputError: the folder cannot be used (see :func:`check_folder`).

    Attributes:
        path: the report folder.
        committed: whether this run's report has taken the folder's place.
    """

    def __init__(self, path: Path, option: str = "--out", locate=None):
        check_folder(path, option, locate)
        self.path = path
        self.option = option
        self._locate = locate
        self.committed = False
        self._created: list[Path] = []

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """Create the staging folder; swap it in on success, remove it on any exception.

        Raises:
            OutputError: the staging folder cannot be created (unwritable place, read-only
                file system, a parent that is a file), before anything is simulated.
        """
        with _sigint_deferred():  # a Ctrl-C now would leave the new staging folder behind
            tmp = self._make_staging()
        try:
            yield tmp
            with _sigint_deferred():
                check_folder(self.path, self.option, self._locate)  # nothing slipped in
                earlier = self._swap(tmp)
                self.committed = True
                if earlier is not None:
                    shutil.rmtree(earlier, ignore_errors=True)
        finally:
            if not self.committed:
                with _sigint_deferred():
                    shutil.rmtree(tmp, ignore_errors=True)
                    for d in reversed(self._created):
                        _rmdir_if_empty(d)

    def _make_staging(self) -> Path:
        parent = self.path.parent
        # the parents this run creates, outermost first, removed again if it fails
        self._created = [p for p in reversed((parent, *parent.parents)) if not p.exists()]
        try:
            parent.mkdir(parents=True, exist_ok=True)
            for _ in range(16):
                tmp = parent / f".{self.path.name}.{secrets.token_hex(4)}{_STAGING_SUFFIX}"
                try:
                    tmp.mkdir()
                    return tmp
                except FileExistsError:
                    continue
            raise OSError(errno.EEXIST, "no free staging name")
        except OSError as exc:
            for d in reversed(self._created):
                _rmdir_if_empty(d)
            raise OutputError(_problem(f"{self.path}: cannot write here: "
                                       f"{exc.strerror or exc}", self.option, self._locate),
                              hint="choose a folder you can write to") from None

    def _swap(self, tmp: Path) -> Path | None:
        """Put ``tmp`` in the folder's place; return where the earlier report went."""
        if not self.path.exists():
            os.rename(tmp, self.path)
            return None
        if _exchange(tmp, self.path):
            return tmp  # the earlier report, now under the staging name
        old = tmp.with_name(tmp.name.replace(_STAGING_SUFFIX, ".old"))
        os.rename(self.path, old)
        try:
            os.rename(tmp, self.path)
        except OSError:
            os.rename(old, self.path)
            raise
        return old


def _rmdir_if_empty(d: Path) -> None:
    try:
        d.rmdir()
    except OSError:
        pass


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False if the
    system or file system cannot, so the caller falls back to two renames."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) back while the folder is being swapped or cleaned up; one that
    arrived meanwhile is delivered (``KeyboardInterrupt``) right after.

    A handler that records the signal rather than a signal mask: a process-directed signal
    may be delivered to any thread that does not block it, and Python acts on it in the
    main thread all the same.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
        if caught and callable(previous):
            previous(signal.SIGINT, None)
