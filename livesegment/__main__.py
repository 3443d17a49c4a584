"""``python -m livesegment`` runs the command line."""

import sys

from livesegment.cli import main

sys.exit(main())
