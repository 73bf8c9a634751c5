"""索引服务（真实实现会调用向量库）。"""
import os
import time

INDEXED: list[str] = []


def index_document(doc_id: str, text: str, lang: str = "zh") -> int:
    time.sleep(0.01)
    INDEXED.append(doc_id)
    return len(text)


async def embed_document(doc_id: str) -> None:
    INDEXED.append(f"emb:{doc_id}")


def remove_upload(path: str) -> None:
    os.remove(path)  # 删除临时上传文件


def generate_report(report_id: int, fmt: str = "pdf") -> str:
    return f"/reports/{report_id}.{fmt}"
