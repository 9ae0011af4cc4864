"""The baseline of bench/api.py: a bare Flask hello-world served the same way."""
from flask import Flask

app = Flask(__name__)


@app.route("/hello", methods=["GET", "POST"])
def hello():
    """The cheapest possible answer."""
    return "Hello, World!"
