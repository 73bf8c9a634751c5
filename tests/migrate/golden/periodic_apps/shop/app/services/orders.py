"""订单服务。"""

import logging
from datetime import datetime, timedelta

from sqlalchemy import text

from app.core.database import SessionLocal

logger = logging.getLogger(__name__)


def cancel_expired_orders() -> int:
    """取消 30 分钟未支付的订单。"""
    deadline = datetime.utcnow() - timedelta(minutes=30)
    with SessionLocal() as db:
        result = db.execute(
            text("UPDATE orders SET status='cancelled' WHERE status='pending' AND created_at < :d"),
            {"d": deadline},
        )
        db.commit()
    logger.info("取消了 %s 个超时订单", result.rowcount)
    return result.rowcount
