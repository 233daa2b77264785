"""The baseline: Flask on gunicorn answering 202 and doing nothing else (the HTTP ceiling)."""

from flask import Flask

app = Flask(__name__)


@app.post("/webhooks/github")
def accept() -> tuple[str, int]:
    return "", 202
