"""`genstudio bench`: speed and quality measured side by side, printed as one table (work in progress)."""


def main(argv=None) -> int:
    raise SystemExit("genstudio bench: not written yet")
