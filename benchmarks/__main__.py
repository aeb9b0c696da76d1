"""``python -m benchmarks``: see run.py and README.md."""

import sys

from .run import main

sys.exit(main())
