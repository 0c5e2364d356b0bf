"""Character corpora: one item per line, tokenised makemore-style ('.' starts and ends a word)."""
from __future__ import annotations

import os

END = "."


def load_names() -> list[str]:
    """US census first names shipped inside the `names` package, lower-case, deduplicated."""
    import names

    folder = os.path.dirname(names.__file__)
    words: set[str] = set()
    for fname in ("dist.female.first", "dist.male.first"):
        with open(os.path.join(folder, fname), encoding="ascii") as fh:
            for line in fh:
                if line.strip():
                    words.add(line.split()[0].lower())
    return sorted(words)
