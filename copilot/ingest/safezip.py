"""Reading untrusted zip archives without extracting them: zip-slip and zip-bomb checks first."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from copilot.errors import ImportFormatInvalid, PayloadTooLarge

MAX_RATIO = 200  # text compresses ~10x; hundreds-fold is a bomb
RATIO_FLOOR = 64 * 1024  # below this an entry's ratio says little (a tiny file of spaces), and costs nothing


class SafeZip:
    """A zip whose entry names, counts and sizes were checked before any read."""

    def __init__(self, path: Path, *, max_members: int, max_bytes: int):
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ImportFormatInvalid(f"'{path.name}' is not a readable zip archive: {exc}", field="file") from exc
        infos = self.zf.infolist()
        if len(infos) > max_members:
            raise PayloadTooLarge(f"archive has {len(infos)} entries; the limit is {max_members}", field="file")
        total = packed = 0
        for info in infos:
            name = PurePosixPath(info.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or info.filename.startswith(("/", "\\")) or ":" in name.parts[0]:
                raise ImportFormatInvalid(f"unsafe path in archive: '{info.filename}'", field="file")
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * info.compress_size:
                raise PayloadTooLarge(f"entry '{info.filename}' expands {info.file_size // max(1, info.compress_size)}x "
                                      f"(limit {MAX_RATIO}x); refusing a possible zip bomb", field="file")
            total += info.file_size
            packed += info.compress_size
        if total > RATIO_FLOOR and total > MAX_RATIO * packed:
            raise PayloadTooLarge(f"archive expands {total // max(1, packed)}x (limit {MAX_RATIO}x); refusing a "
                                  "possible zip bomb", field="file")
        if total > max_bytes:
            raise PayloadTooLarge(f"archive expands to {total} bytes; the limit is {max_bytes}", field="file")
        self.infos = {i.filename: i for i in infos if not i.is_dir()}

    def names(self) -> list[str]:
        """Entry names (files only)."""
        return list(self.infos)

    def read(self, name: str) -> bytes:
        """Read an entry, never more than its declared size (a lying header cannot inflate it)."""
        info = self.infos[name]
        with self.zf.open(info) as fh:
            data = fh.read(info.file_size + 1)
        if len(data) > info.file_size:
            raise PayloadTooLarge(f"entry '{name}' is larger than its header says", field="file")
        return data

    def close(self) -> None:
        """Close the archive."""
        self.zf.close()
