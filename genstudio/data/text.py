"""Character corpora: one item per line, tokenised makemore-style ('.' starts and ends a word)."""
from __future__ import annotations

import gzip

from ..paths import resource

END = "."


def load_names() -> list[str]:
    """5,163 US Census first names (1990), lower-case, deduplicated and sorted
    (genstudio/resources/names.txt.gz, one per line)."""
    with gzip.open(resource("names.txt.gz"), "rt", encoding="ascii") as fh:
        return [line.strip() for line in fh if line.strip()]
