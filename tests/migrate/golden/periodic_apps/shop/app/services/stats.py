"""访问统计：先在内存里累加，定期写入文件。"""

import json
from collections import Counter

VIEWS: Counter = Counter()


def flush_stats() -> None:
    with open("stats.json", "w", encoding="utf-8") as fh:
        json.dump(dict(VIEWS), fh)
