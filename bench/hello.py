"""The baseline of bench/api.py: a bare Flask hello-world served the same way.

Run: not by hand; `python -m bench.api` serves it as `gunicorn bench.hello:app` from the project
root (alone: `.venv/bin/python -m flask --app bench.hello run`).
"""
from flask import Flask

app = Flask(__name__)


@app.route("/hello", methods=["GET", "POST"])
def hello():
    """The cheapest possible answer."""
    return "Hello, World!"
