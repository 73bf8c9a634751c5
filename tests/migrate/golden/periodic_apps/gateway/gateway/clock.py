async def ntp_sync() -> None:
    ...


def get_sync_interval() -> float:
    return 300.0
