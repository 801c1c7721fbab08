"""Verified files for the datasets that must be downloaded (MNIST, CIFAR-10), through pooch.

`fetch` returns a file that matches its published MD5: a file already placed by hand is checked and used, a
missing one is downloaded by `pooch.retrieve` from the first mirror that answers. Pooch downloads into a temporary
file beside the target and moves it into place only once its hash matches, so an interrupted or corrupt download
leaves nothing behind. A placed file with the wrong hash is refused (renamed to `*.bad`), never silently replaced
by a new download: the user put it there, and a different file under the same name is worth saying so.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pooch
import requests

from repro.data import ChecksumError

TIMEOUT_S = 30  # seconds without an answer before a mirror counts as unreachable

pooch.get_logger().setLevel(logging.WARNING)  # "downloading ..." is printed here, once per attempt


class Unreachable(Exception):
    """No mirror could deliver the file; `errors` says why for each one (the caller names the file and where to
    put it, `repro.data.DataMissing`)."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def refuse_unless_matching(path: Path, md5: str, source: str) -> None:
    """Raise ChecksumError, with the file renamed to `*.bad`, unless `path`'s MD5 is `md5`."""
    got = pooch.file_hash(str(path), alg="md5")
    if got != md5:
        bad = path.with_name(path.name + ".bad")
        os.replace(path, bad)
        raise ChecksumError(
            f"{path} has md5 {got}, expected {md5}; refused and moved to {bad}. "
            f"Delete it and fetch {path.name} again from {source}."
        )


def fetch(folder: str | Path, name: str, md5: str, urls: Sequence[str]) -> Path:
    """`folder/name`, verified against `md5`: placed, or downloaded from the first of `urls` that answers.

    Raises ChecksumError for a placed file that does not match, or for a download that does not (pooch deletes it),
    and Unreachable when no URL delivers the file."""
    path = Path(folder) / name
    if path.exists():
        refuse_unless_matching(path, md5, urls[0])
        return path
    errors = []
    for url in urls:
        print(f"downloading {url} -> {path}", flush=True)
        try:
            pooch.retrieve(
                url,
                known_hash=f"md5:{md5}",
                fname=name,
                path=str(folder),
                downloader=pooch.HTTPDownloader(timeout=TIMEOUT_S, progressbar=False),
            )
            return path
        except ValueError as e:  # pooch's hash mismatch: the mirror serves another file; nothing was kept
            raise ChecksumError(
                f"{url} served a file that is not {name}: {e}. Nothing was kept; put the right file "
                f"(md5 {md5}) at {path}."
            ) from None
        except (requests.exceptions.RequestException, OSError) as e:  # refused, 5xx, timeouts, dropped transfers
            errors.append(f"{url}: {type(e).__name__}: {e}")
    raise Unreachable(errors)
