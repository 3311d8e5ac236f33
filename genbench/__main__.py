"""``python -m genbench`` is the ``genbench`` command."""

from genbench.cli import main

main()
