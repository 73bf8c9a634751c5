"""热门商品缓存：放在进程内存里，接口直接读。"""

import httpx

HOT_PRODUCTS: dict[str, list] = {}


async def refresh_hot_products() -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        resp = await client.get("http://recommend.internal/hot")
    HOT_PRODUCTS.clear()
    HOT_PRODUCTS.update(resp.json())


def get_hot_products() -> dict[str, list]:
    return HOT_PRODUCTS
