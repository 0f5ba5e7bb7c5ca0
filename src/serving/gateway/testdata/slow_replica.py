"""A custom predictor replica whose requests can be held open, so gateway_test can fill a
revision's containerConcurrency deterministically. Plain HTTP/1.1 (keep-alive) on 127.0.0.1.

    slow_replica.py        prints "listening on http://127.0.0.1:PORT", then serves:
      GET  /v2/health/ready       200
      POST /release               lets every held request answer
      POST ...  (body has "hold") waits for /release, then 200 {"held": true}
      POST ...  (body has "chunked") 200 {"chunked": true} in three chunks
      POST ...  (other bodies)    200 {"echo": <body>}
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

released = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, body):
        data = json.dumps(body).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the gateway gave up on this request (its timeout)

    def do_GET(self):
        self.reply({"ready": True})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        if self.path == "/release":
            released.set()
            self.reply({"released": True})
        elif "chunked" in body:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'{"chunked"', b": true", b"}"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif "hold" in body:
            released.wait(120)
            self.reply({"held": True})
        else:
            self.reply({"echo": body})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
