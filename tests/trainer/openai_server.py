"""A local HTTP server that speaks the OpenAI chat-completions API with recorded answers.

It stands in for the paid API, the one part of clinstream that cannot run here. Answers are
looked up by the user message; `fail_next` makes the next requests fail with the given status.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RECORDED = Path(__file__).parent / "recorded" / "chat_answers.json"


class OpenAiServer:
    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.requests: list[dict] = []
        self.fail_next: list[int | str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found"}})
                if server.fail_next:
                    failure = server.fail_next.pop(0)
                    if failure == "garbage":
                        return self._send(200, _completion("{not json", 10, 2))
                    return self._send(failure, {"error": {"message": "try again"}})
                user = next(m["content"] for m in body["messages"] if m["role"] == "user")
                if user not in server.answers:
                    return self._send(400, {"error": {"message": "no recorded answer"}})
                return self._send(200, _completion(server.answers[user], len(user) // 4, 40))

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/v1"

    def __enter__(self) -> "OpenAiServer":
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _completion(content: str, prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "id": "chatcmpl-recorded",
        "object": "chat.completion",
        "model": "recorded",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }  # fmt: skip


def recorded_answers() -> dict[str, str]:
    return json.loads(RECORDED.read_text())
