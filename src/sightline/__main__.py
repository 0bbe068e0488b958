"""`python -m sightline` runs the CLI."""

from sightline.cli import main

main()
