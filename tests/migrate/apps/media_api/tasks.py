"""Celery 任务（迁移后的那一边）。"""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task
def send_welcome_email(email: str) -> None:
    print("welcome", email)


@shared_task
def resize_avatar(path: str) -> None:
    print("resize", path)


@shared_task
def send_webhook(url: str, payload: dict[str, Any]) -> None:
    print("webhook", url, payload)


@shared_task
def handle_event(event: dict[str, Any]) -> None:
    print("event", event)
