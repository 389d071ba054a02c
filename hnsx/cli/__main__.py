"""``python -m hnsx.cli ...`` (what ``accelerate launch -m hnsx.cli`` runs)."""

import sys

from hnsx.cli import main

sys.exit(main())
