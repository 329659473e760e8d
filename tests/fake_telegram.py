"""A fake Telegram Bot API server on loopback, for the Telegram channel's round trip.

It answers the few methods the channel calls (getMe, setWebhook, sendMessage) the way the real Bot
API does, and records every call, so a test can read what the patient would have received. Sending
to BLOCKED_CHAT fails, as it does for a patient who blocked the bot.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List
from urllib.parse import parse_qs

from harness.servers import free_port

# A patient who blocked the bot: the Bot API refuses to send to this chat, as the real one does.
BLOCKED_CHAT = 403403


class FakeBotAPI:
    def __init__(self) -> None:
        self.calls: List[Dict] = []
        self.port = free_port()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(body or "{}")
                else:
                    params = {key: values[0] for key, values in parse_qs(body).items()}
                method = self.path.rsplit("/", 1)[-1]
                fake.calls.append({"method": method, "params": params})
                if method == "sendMessage" and str(params.get("chat_id")) == str(BLOCKED_CHAT):
                    self._fail(403, "Forbidden: bot was blocked by the user")
                else:
                    self._reply(fake.result(method, params))

            do_GET = do_POST

            def _reply(self, result) -> None:
                data = json.dumps({"ok": True, "result": result}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _fail(self, code, description) -> None:
                data = json.dumps({"ok": False, "error_code": code, "description": description}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def result(self, method: str, params: Dict):
        if method == "getMe":
            return {"id": 1, "is_bot": True, "first_name": "Knee assistant", "username": "knee_test_bot"}
        if method == "sendMessage":
            chat_id = int(params.get("chat_id", 0))
            return {
                "message_id": len(self.calls),
                "date": 0,
                "chat": {"id": chat_id, "type": "private"},
                "text": params.get("text", ""),
            }
        return True

    def sent_to(self, chat_id: int) -> List[str]:
        return [
            c["params"].get("text", "")
            for c in self.calls
            if c["method"] == "sendMessage" and int(c["params"].get("chat_id", 0)) == chat_id
        ]

    def start(self) -> "FakeBotAPI":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
