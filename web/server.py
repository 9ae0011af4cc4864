"""The gunicorn worker class of the web processes: gunicorn's gthread worker, with read timeouts.

gunicorn 27's gthread worker waits for a new connection's first bytes without a thread for long
(5 s, then the poller holds it), but once a byte has come a thread reads the rest of the headers,
and later the application reads the body, on a blocking socket with no timeout: a client that
stops half-way holds that thread until it hangs up, and gunicorn has no setting to bound it.
Here every read of a request waits at most READ_TIMEOUT_SECONDS for the next bytes, after which
the connection is closed (headers) or the request fails (body); the answer, once the application
has returned it, may take SEND_TIMEOUT_SECONDS to go out. See docs/operations.md.
"""
from __future__ import annotations

import errno
import logging
import threading

from gunicorn import util
from gunicorn.workers import gthread

READ_TIMEOUT_SECONDS = 10.0  # the longest a client may pause while sending its request
SEND_TIMEOUT_SECONDS = 300.0  # the longest one answer may take to go out (100 MB at 330 kB/s)


class TimedConnection(gthread.TConn):
    """A client connection whose reads wait at most READ_TIMEOUT_SECONDS for data."""

    def init(self):
        # gthread calls this before each request on the connection, after it made the socket
        # blocking again (which clears any timeout).
        super().init()
        self.sock.settimeout(READ_TIMEOUT_SECONDS)


class ThreadWorker(gthread.ThreadWorker):
    """gthread with read timeouts (the class gunicorn.conf.py names in `worker_class`)."""

    def init_process(self):
        logging.getLogger("gunicorn.error").addFilter(quiet_read_timeouts)
        # gunicorn answers what never reaches the app (a bad request line, a NUL in a header, 431)
        # with an HTML page through util.write_error, and has no setting for it: in this process,
        # that answer is plain text, as every error of SPEC.md is.
        util.write_error = write_plain_error
        super().init_process()  # runs the worker until it stops

    def run(self):
        # After post_worker_init (the fork server starts before any thread), before the first
        # connection: gthread would start a thread per connection in its accept loop, which under
        # a burst of connections (and a busy machine) keeps that loop from accepting the next.
        start_every_thread(self.tpool, self.cfg.threads)
        super().run()

    def accept(self, listener):
        """gthread's accept, making TimedConnection instead of TConn."""
        try:
            client_sock, client_addr = listener.accept()
            self.nr_conns += 1
            client_sock.setblocking(True)
            self.enqueue_req(TimedConnection(self.cfg, client_sock, client_addr, listener.getsockname()))
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise

    def handle(self, conn):
        """gthread's handle, closing a connection done with here, on this thread."""
        keep_alive = super().handle(conn)
        if keep_alive is False:
            # gthread would close it from its main loop, where util.close_graceful lingers up to
            # 2 s for a client that does not close its end: a hundred such clients would keep
            # that loop from accepting and from beating, and gunicorn's timeout would kill the
            # process. Closed here, gthread's own close afterwards finds nothing left to do.
            conn.close(graceful=True)
        return keep_alive

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = sending_with_timeout(self.wsgi)


def start_every_thread(pool, count: int) -> None:
    """Have a ThreadPoolExecutor start all its `count` threads now: `count` jobs that wait for
    each other each need a thread of their own."""
    all_started = threading.Barrier(count, timeout=60)
    jobs = [pool.submit(all_started.wait) for _ in range(count)]
    for job in jobs:
        job.result()


def sending_with_timeout(application):
    """The WSGI application, giving its answer SEND_TIMEOUT_SECONDS to go out once it returns it
    (the request has been read by then: what it left unread gunicorn drains under its own limit)."""
    def timed(environ, start_response):
        answer = application(environ, start_response)
        sock = environ.get("gunicorn.socket")
        if sock is not None:
            sock.settimeout(SEND_TIMEOUT_SECONDS)
        return answer
    return timed


def quiet_read_timeouts(record: logging.LogRecord) -> bool:
    """gthread logs a read timeout while it reads headers as an unexpected socket error, with a
    traceback: make it one line, so that clients that stall cannot fill the log."""
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, TimeoutError):
        record.msg, record.args, record.exc_info, record.exc_text = (
            "Closed a connection that sent nothing for %s s in the middle of its request headers",
            (READ_TIMEOUT_SECONDS,), None, None)
        record.levelno, record.levelname = logging.INFO, "INFO"
    return True


def write_plain_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's own error answer (util.write_error's signature), as plain text."""
    body = f"{reason}: {mesg}" if mesg else reason
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"X-Content-Type-Options: nosniff\r\nContent-Length: {len(body.encode())}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body.encode())
