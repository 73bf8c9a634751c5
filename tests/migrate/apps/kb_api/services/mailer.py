import smtplib


class Mailer:
    def __init__(self, host: str) -> None:
        self.host = host

    def send(self, to: str, subject: str) -> None:
        with smtplib.SMTP(self.host) as s:  # 仅示意
            s.noop()
