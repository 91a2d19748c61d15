from tests.utils.smtp import smtp_server
from wharf.platform.mail.smtp import send_email
from wharf.platform.settings import Settings


def test_send_email_reaches_a_real_smtp_server() -> None:
    with smtp_server() as mailbox:
        settings = Settings(wharf_smtp_host=mailbox.host, wharf_smtp_port=mailbox.port, wharf_env="test")
        send_email(settings, to="ada@example.com", subject="Hello", text="plain body", html="<p>html</p>")
        [message] = mailbox.wait_for("ada@example.com")
        assert message["Subject"] == "Hello"
        assert "plain body" in mailbox.text_of(message)
