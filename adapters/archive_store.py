"""Archive stores: create-only objects in GCS (``gs://``) or a local folder (``file://``).

Both refuse to overwrite: ``put_if_absent`` returns False when the object already exists, which is how a
retried write after a crash is recognised as already done. ``list_names(prefix, after=name)`` lists only
the names sorting after ``name``, so a folder that only grows can be followed without listing it whole.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from pillarstream.errors import ArchiveError, ConfigError


class ArchiveStore(Protocol):
    url: str

    def put_if_absent(self, name: str, data: bytes) -> bool: ...
    def list_names(self, prefix: str, after: str | None = None) -> list[str]: ...
    def get(self, name: str) -> bytes: ...


class FileStore:
    """Objects as files; atomic and create-only through write-to-temp then ``link``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"file://{root}"

    def put_if_absent(self, name: str, data: bytes) -> bool:
        target = self.root / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                return False
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                # link() fails if the name exists: never overwrites, even against a concurrent writer.
                os.link(tmp, target)
            except FileExistsError:
                return False
            finally:
                os.unlink(tmp)
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            return True
        except OSError as exc:
            raise ArchiveError(f"cannot write {target}: {exc.strerror}") from exc

    def list_names(self, prefix: str, after: str | None = None) -> list[str]:
        folder = prefix.rpartition("/")[0]
        names = []
        # os.walk reads each folder once (no stat per file): the archiver lists an index folder every batch.
        for path, folders, files in os.walk(self.root / folder if folder else self.root):
            relative = Path(path).relative_to(self.root).as_posix()
            stem = "" if relative == "." else relative + "/"
            # Skip folders whose names all sort before ``after`` (the index's earlier hours).
            folders[:] = [f for f in folders if after is None or not _before(stem + f + "/", after)]
            for file in files:
                name = stem + file
                if name.startswith(prefix) and not file.startswith(".tmp-") and (after is None or name > after):
                    names.append(name)
        return sorted(names)

    def get(self, name: str) -> bytes:
        try:
            return (self.root / name).read_bytes()
        except OSError as exc:
            raise ArchiveError(f"cannot read {name}: {exc.strerror}") from exc


def _before(folder: str, after: str) -> bool:
    """Every name under ``folder`` (ending in '/') sorts before ``after``."""
    return folder < after and not after.startswith(folder)


class GcsStore:
    """Objects in a GCS bucket; create-only through the ``ifGenerationMatch=0`` precondition."""

    def __init__(self, bucket: str, prefix: str = "") -> None:
        from google.api_core import exceptions as gexc
        from google.cloud import storage

        self._gexc = gexc
        if os.environ.get("STORAGE_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
            client = storage.Client(project="emulator", credentials=credentials)
        else:
            client = storage.Client()
        self._bucket = client.bucket(bucket)
        self._client = client
        self.prefix = prefix.strip("/")
        self.url = f"gs://{bucket}/{self.prefix}".rstrip("/")

    def _full(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def put_if_absent(self, name: str, data: bytes) -> bool:
        blob = self._bucket.blob(self._full(name))
        try:
            blob.upload_from_string(data, content_type="application/gzip", if_generation_match=0)
            return True
        except self._gexc.PreconditionFailed:
            return False
        except Exception as exc:  # noqa: BLE001 - google-cloud raises several unrelated types; wrap all once
            raise ArchiveError(f"cannot write gs object {name}: {type(exc).__name__}: {exc}") from exc

    def list_names(self, prefix: str, after: str | None = None) -> list[str]:
        try:
            # start_offset is inclusive: the name equal to ``after`` is dropped below.
            start = {"start_offset": self._full(after)} if after is not None else {}
            blobs = self._client.list_blobs(self._bucket, prefix=self._full(prefix), **start)
            cut = len(self.prefix) + 1 if self.prefix else 0
            return sorted(name for blob in blobs if (name := blob.name[cut:]) != after)
        except Exception as exc:  # noqa: BLE001
            raise ArchiveError(f"cannot list gs prefix {prefix}: {type(exc).__name__}: {exc}") from exc

    def get(self, name: str) -> bytes:
        try:
            return bytes(self._bucket.blob(self._full(name)).download_as_bytes())
        except Exception as exc:  # noqa: BLE001
            raise ArchiveError(f"cannot read gs object {name}: {type(exc).__name__}: {exc}") from exc


def open_store(url: str) -> ArchiveStore:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FileStore(Path(parsed.path))
    if parsed.scheme == "gs":
        if not parsed.netloc:
            raise ConfigError(f"archive url {url!r} has no bucket")
        return GcsStore(parsed.netloc, parsed.path)
    raise ConfigError(f"archive url {url!r}: scheme must be gs:// or file://")

