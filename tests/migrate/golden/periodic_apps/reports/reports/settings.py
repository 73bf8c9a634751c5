import os

# 汇率同步间隔（分钟），可以用环境变量覆盖
RATE_SYNC_MINUTES = int(os.getenv("RATE_SYNC_MINUTES", "15"))
REPORT_TIME = "02:00"
