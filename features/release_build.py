"""Build the shipped reference release from the real kommuner and the synthetic grunnkretser.

The kommuner (number, name, centrality class, population) are SSB's, from
``features/reference/kommuner_2024.csv``; the grunnkretser, their bydeler and education shares
(suppressed for small ones) are the synthetic country's, since SSB's grunnkrets tables are not
shipped. Run ``python -m features.release_build`` to rebuild the files under
``features/reference/releases/2024``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from features.code_changes import CodeChanges
from features.releases import SHIPPED_RELEASE, Release
from features.synth import synthesise

SHIPPED_SEED = 2026
SHIPPED_VALID_FROM = "2024-01-01"  # the kommune borders in force from 1 January 2024


def synthetic_release(
    seed: int = SHIPPED_SEED, name: str = SHIPPED_RELEASE, n_persons: int | None = None
) -> Release:
    """A release from a synthetic country: its residents weight the education fallback."""
    country = synthesise(n_persons, seed)
    release = Release.from_dataset(country, name)
    return Release(
        name=name,
        kommuner=release.kommuner,
        grunnkretser=release.grunnkretser,
        valid_from=SHIPPED_VALID_FROM,
        valid_to=None,
        code_changes=CodeChanges.shipped(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).parent / "reference" / "releases" / SHIPPED_RELEASE
    parser.add_argument("--out", type=Path, default=default)
    parser.add_argument("--seed", type=int, default=SHIPPED_SEED)
    args = parser.parse_args()
    release = synthetic_release(args.seed)
    release.save(args.out)
    print(f"release {release.name} ({release.period}) written to {args.out}")
    print(release.reference.fallback)


if __name__ == "__main__":
    main()
