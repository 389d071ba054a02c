"""Output folders checked before any work, and file-system errors turned into one-line messages.

Every ``hnsx`` command that writes checks its ``--out`` with :func:`check_out_dir` before it loads data or trains,
so a path it cannot write to fails at once instead of after minutes of work; :func:`os_error_message` is what
:func:`hnsx.cli.main` prints for any other ``OSError`` (exit code 2, no traceback).
"""

from __future__ import annotations

import os
from pathlib import Path


def check_out_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """``path`` as a :class:`~pathlib.Path` when it is, or can become, a folder this process may write into.

    Nothing is created. Raises ``ValueError`` naming ``option`` when ``path`` is an existing file, lies below a file,
    or its nearest existing folder is not writable.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{option} {out} is a file, not a folder")
    existing = out
    while not existing.exists():
        if existing.is_symlink():
            raise ValueError(f"{option} {out}: {existing} is a broken link")
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{option} {out}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {out}: cannot write into {existing} (permission denied)")
    return out


def os_error_message(err: OSError) -> str:
    """One line for a file-system error: what failed and on which path (``[Errno 13] ...`` without the number)."""
    reason = err.strerror or str(err) or type(err).__name__
    paths = [str(p) for p in (err.filename, err.filename2) if p is not None]
    return f"{reason}: {' -> '.join(paths)}" if paths else reason
