"""``python -m tinyplan`` runs the command line."""

from tinyplan.cli import main

main()
