"""``python -m shifter``."""

from shifter.cli.app import main

main()
