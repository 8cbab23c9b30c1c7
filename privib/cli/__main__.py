"""``python -m privib.cli``: the ``privib`` command."""
import sys

from privib.cli import main

sys.exit(main())
