"""The per-install secret behind NIP pseudonyms and page sessions, kept in a 0600 file.

A development install has no operator to set `KOMPETEN_PSEUDONYM_KEY`, and a constant in the
source would let anyone who reads the code sign a page session or re-identify a pseudonym. So
the first start writes a random secret under `KOMPETEN_HOME` (readable by the owner only) and
every later start, worker and command of the same install reads it back.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

SECRET_FILE = "secret.key"
#: Bytes of randomness in a generated secret (256 bits, url-safe text).
_SECRET_BYTES = 32
#: Shortest secret accepted from a file or the environment.
MIN_SECRET_LENGTH = 32


class SecretFileError(ValueError):
    """The secret file exists but cannot be trusted (readable by others, empty, too short)."""


def secret_path(home: Path) -> Path:
    return home / SECRET_FILE


def read_secret(path: Path) -> str:
    """The secret in `path`; refuses a file that group or others can read or write."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretFileError(
            f"{path} is accessible to other users (mode {stat.S_IMODE(mode):o}); "
            f"run `chmod 600 {path}`"
        )
    value = path.read_text(encoding="utf-8").strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise SecretFileError(f"{path} holds no secret of at least {MIN_SECRET_LENGTH} characters")
    return value


def install_secret(home: Path) -> tuple[str, bool]:
    """This install's secret and whether this call created it.

    Safe when several workers start at once: the new secret is written to a private temporary
    file and linked into place, which fails if another process got there first; then everyone
    reads the one file that won.
    """
    path = secret_path(home)
    if path.exists():
        return read_secret(path), False
    home.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(_SECRET_BYTES) + "\n")
        try:
            os.link(temporary, path)
            created = True
        except FileExistsError:
            created = False
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return read_secret(path), created
