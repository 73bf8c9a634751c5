"""tests/docs imports its helpers (_blocks, _rules, _example) by plain name."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
