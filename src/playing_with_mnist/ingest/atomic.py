"""Write files so that an interrupted save leaves the previous version intact."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

# mkstemp creates files readable by their owner only; a saved file gets the usual permissions
# (0666 less the umask), as open() would give it. Read once: os.umask can only be read by setting it.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextmanager
def atomic_write(path: Path | str, mode: str = "wb", **open_kwargs: Any) -> Iterator[IO]:
    """Yield a temporary file beside ``path``, opened with ``mode`` and :func:`open`'s ``open_kwargs``
    (``encoding``, ``newline``, ...); rename it over ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        os.chmod(temporary, 0o666 & ~_UMASK)
        with os.fdopen(handle, mode, **open_kwargs) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
