"""A small blocking JSON-over-HTTP client on `wasi:http`, with the
Statusport SDK's mapping of answers to `adapter-error`s.

Requests go through the host, which lets them through only to the
channel's base URL and the extra hosts the operator granted; a refused
request comes back as a `config` error naming the request.
"""

import email.utils
import json
import time
import urllib.parse

from componentize_py_types import Err
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import statusport_adapter_types as types
from wit_world.imports import wasi_http_types as http

# `wasi:io` lets a blocking write carry at most 4096 bytes.
WRITE_CHUNK = 4096
# Largest answer read; platforms answer in kilobytes.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
# Longest part of a platform's answer quoted in an error.
QUOTE_LIMIT = 300

METHODS = {
    "GET": http.Method_Get(),
    "POST": http.Method_Post(),
    "PUT": http.Method_Put(),
    "PATCH": http.Method_Patch(),
    "DELETE": http.Method_Delete(),
}


def rejected(message):
    return Err(types.AdapterError_Rejected(message))


def auth(message):
    return Err(types.AdapterError_Auth(message))


def config_error(message):
    return Err(types.AdapterError_Config(message))


def unsupported(message):
    return Err(types.AdapterError_Unsupported(message))


def transient(message, retry_after_ms=None):
    return Err(types.AdapterError_Transient(types.TransientError(message, retry_after_ms)))


def platform_message(body):
    """What a platform's error body says: `code: message`, else the start of the text."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        said = json.loads(text)
    except ValueError:
        said = None
    if isinstance(said, dict):
        message = said.get("message")
        if isinstance(message, str) and message.strip():
            code = said.get("code")
            return f"{code}: {message}" if isinstance(code, str) and code else message
    return text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT] + "…"


def retry_after_ms(value):
    """A Retry-After value (seconds or an HTTP date) in milliseconds."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value) * 1000
    try:
        at = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, int((at.timestamp() - time.time()) * 1000))


def status_error(what, status, retry_after, body):
    """The error for an answer that is not a success, as the Rust SDK maps it:
    401 and 403 are `auth`; 408, 425, 429 and 5xx `transient` with the
    platform's Retry-After; any other status `rejected`, quoting the platform."""
    said = platform_message(body)
    message = f"{what}: the platform answered HTTP {status}"
    if said:
        message += f": {said}"
    if status in (401, 403):
        return auth(message)
    if status in (408, 425, 429) or status >= 500:
        return transient(message, retry_after_ms(retry_after))
    return rejected(message)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


def _send(method, url, headers, body):
    """Sends one request; any answer is a `Response`, a transport failure the
    `ErrorCode` of `wasi:http` raised as `Err`."""
    parts = urllib.parse.urlsplit(url)
    fields = http.Fields.from_list([(name, value.encode("utf-8")) for name, value in headers])
    request = http.OutgoingRequest(fields)
    request.set_method(METHODS[method])
    request.set_scheme(http.Scheme_Https() if parts.scheme == "https" else http.Scheme_Http())
    request.set_authority(parts.netloc)
    request.set_path_with_query(parts.path + ("?" + parts.query if parts.query else ""))
    outgoing = request.body()
    if body:
        with outgoing.write() as stream:
            for start in range(0, len(body), WRITE_CHUNK):
                stream.blocking_write_and_flush(body[start : start + WRITE_CHUNK])
    http.OutgoingBody.finish(outgoing, None)

    future = outgoing_handler.handle(request, None)
    with future.subscribe() as ready:
        ready.block()
    answer = future.get()
    future.__exit__(None, None, None)
    # `get` answers Some(Ok(Ok(response))) once the answer is there.
    if answer is None or not hasattr(answer, "value"):
        raise Err(http.ErrorCode_InternalError("the answer never came"))
    inner = answer.value
    if isinstance(inner, Err):
        raise inner
    response = inner.value
    with response:
        status = response.status()
        with response.headers() as answer_headers:
            headers = [(k.lower(), v.decode("utf-8", errors="replace")) for k, v in answer_headers.entries()]
        incoming = response.consume()
        chunks = []
        size = 0
        with incoming.stream() as stream:
            while True:
                try:
                    chunk = stream.blocking_read(65536)
                except Err as e:
                    if isinstance(e.value, streams.StreamError_Closed):
                        break
                    raise Err(http.ErrorCode_HttpResponseIncomplete())
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise Err(http.ErrorCode_HttpResponseBodySize(size))
                chunks.append(chunk)
        incoming.__exit__(None, None, None)
    return Response(status, headers, b"".join(chunks))


def _transport_error(what, code):
    if isinstance(code, (http.HeaderError_InvalidSyntax, http.HeaderError_Forbidden, http.HeaderError_Immutable)):
        return config_error(f"{what}: a request header is not valid ({type(code).__name__})")
    if isinstance(code, http.ErrorCode_HttpRequestDenied):
        return config_error(
            f"{what}: the host refused this origin; only the channel's base URL and the "
            "extra hosts granted to the channel are reachable"
        )
    if isinstance(code, (http.ErrorCode_HttpRequestUriInvalid, http.ErrorCode_HttpRequestMethodInvalid)):
        return config_error(f"{what}: invalid request ({type(code).__name__})")
    if isinstance(code, http.ErrorCode_HttpResponseBodySize):
        return rejected(f"{what}: the platform's answer is larger than {MAX_RESPONSE_BYTES} bytes")
    return transient(f"{what}: {type(code).__name__.removeprefix('ErrorCode_')}")


def request_json(method, url, headers, body=None):
    """Sends a request with an optional JSON body and answers the JSON of a
    2xx answer; anything else raises the matching `adapter-error`, its
    message starting with the method and URL."""
    what = f"{method} {url}"
    headers = [("accept", "application/json")] + list(headers)
    payload = None
    if body is not None:
        headers.append(("content-type", "application/json"))
        payload = json.dumps(body).encode("utf-8")
    try:
        response = _send(method, url, headers, payload)
    except Err as e:
        raise _transport_error(what, e.value)
    if not 200 <= response.status <= 299:
        raise status_error(what, response.status, response.header("retry-after"), response.body)
    try:
        return json.loads(response.body)
    except ValueError as e:
        raise rejected(
            f"{what}: the platform's answer is not the JSON expected ({e}): {platform_message(response.body)}"
        )
