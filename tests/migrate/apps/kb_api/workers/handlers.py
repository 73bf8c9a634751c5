"""作业处理函数。"""
from kb_api.core.jobs import Job, JobManager
from kb_api.services.indexer import embed_document, index_document


async def handle_index(job: Job) -> int:
    return index_document(job.payload["doc_id"], job.payload["text"])


async def handle_embed(job: Job) -> None:
    await embed_document(job.payload["doc_id"])


def register_all(jobs: JobManager) -> None:
    jobs.register("index", handle_index)
    jobs.register("embed", handle_embed)
