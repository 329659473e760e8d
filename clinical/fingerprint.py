"""A fingerprint of a folder of data files, for a trained component's config: Rasa's training cache
keys on the config, so a changed file changes the key and the component is trained again."""

from __future__ import annotations

import hashlib
from pathlib import Path


def yaml_files_digest(directory: Path) -> str:
    """SHA-256 over the bytes of the folder's *.yml files, in name order."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.yml")):
        digest.update(path.read_bytes())
    return digest.hexdigest()
