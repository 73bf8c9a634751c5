"""应用配置：从环境变量读取，带默认值。"""

from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    DATABASE_URL: str = "sqlite:///./shop.db"
    # 超时订单检查间隔（秒）
    ORDER_TIMEOUT_CHECK_SECONDS: int = 60
    # 热门商品缓存刷新间隔（分钟）
    CACHE_REFRESH_MINUTES: int = 10

    class Config:
        env_file = ".env"


settings = Settings()
