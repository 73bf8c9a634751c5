"""发邮件。示例里只记在 outbox 里，真实项目这里是 SMTP。"""

from __future__ import annotations

from typing import Any

outbox: list[dict[str, Any]] = []


def send_email(to: str, subject: str, body: str = "") -> None:
    outbox.append({"to": to, "subject": subject, "body": body})
