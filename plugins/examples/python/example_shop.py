"""Statusport platform plugin for Example Shop, in Python.

Built with componentize-py against the contract in wit/v1.1, world
`intake-adapter`: the classes `Adapter` (describe, push-status,
upload-shipment) and `Intake` (pull, accept-webhook) implement its two
exports; the host's `log` and `config` and outbound HTTP (`wasi_http.py`)
are its imports.

Example Shop's API (the README describes it):
  GET  /orders?updated_after=…&page=…&per_page=…   orders changed since, paged
  GET  /orders/{id}                                one order with its shipments
  PUT  /orders/{id}/status        {"status"}       a status change
  POST /orders/{id}/shipments     {"carrier", "tracking_number", …}
Every request carries `Authorization: Bearer <api key>`.

Build: `pip install -r requirements.txt`, then
`componentize-py -d ../../../wit/v1.1 -w intake-adapter componentize example_shop -o example-shop.wasm`,
or `cargo xtask plugins` (target/example-plugins/python-example.wasm).
Every module the plugin uses is imported at the top: componentize-py
snapshots the interpreter after importing them, and a plugin has no
filesystem to import anything later from.
"""

import ipaddress
import json
import re
import time
import urllib.parse

import wit_world
from wit_world.exports import intake
from wit_world.imports import host
from wit_world.imports import statusport_adapter_types as types

from wasi_http import config_error, rejected, request_json, unsupported

PLUGIN = "example-shop-py"
ORDER_PAGE = 50
DAY_SECONDS = 24 * 60 * 60

# Canonical carrier ids and Example Shop's names for them.
CARRIERS = [
    ("dhl", "DHL"),
    ("dpd", "DPD"),
    ("gls", "GLS"),
    ("ups", "UPS"),
    ("fedex", "FedEx"),
    ("hermes", "Hermes"),
    ("other", "Other"),
]

STATUSES = [
    ("pending", "Pending payment"),
    ("paid", "Paid"),
    ("packed", "Packed"),
    ("shipped", "Shipped"),
    ("delivered", "Delivered"),
    ("cancelled", "Cancelled"),
]
TERMINAL = {"delivered", "cancelled"}
MOVES = [
    ("pending", "paid"),
    ("pending", "cancelled"),
    ("paid", "packed"),
    ("paid", "cancelled"),
    ("packed", "shipped"),
    ("packed", "cancelled"),
    ("shipped", "delivered"),
]

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def require_config(name):
    value = host.config(name)
    if value is None or not value.strip():
        raise config_error(f'config field "{name}" is not set: set it on the channel')
    return value


def is_local(hostname):
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


class Client:
    """Example Shop at the channel's base URL, with its API key."""

    def __init__(self):
        base = require_config("base-url")
        parts = urllib.parse.urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise config_error(f'base URL "{base}" must be an http or https URL with a host')
        # The API key goes in a header: never over plain http to another machine.
        if parts.scheme == "http" and not is_local(parts.hostname):
            raise config_error(
                f'base URL "{base}" is plain http: the API key would cross the network unencrypted; use https://'
            )
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.headers = [("authorization", "Bearer " + require_config("api-key"))]

    def call(self, method, path, query=None, body=None):
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return request_json(method, url, self.headers, body)


def segment(value):
    """Escapes a value for one path segment."""
    return urllib.parse.quote(value, safe="")


def carrier_name(carrier):
    wanted = carrier.strip().lower()
    for canonical, name in CARRIERS:
        if canonical == wanted:
            return name
    known = ", ".join(canonical for canonical, _ in CARRIERS)
    raise rejected(f'carrier "{carrier}" is not known to this plugin (known: {known})')


class Adapter(wit_world.exports.Adapter):
    def describe(self):
        return types.PlatformInfo(
            id=PLUGIN,
            name="Example Shop (Python example)",
            version="1.0.0",
            statuses=[
                types.Status(code, label, types.Dimension.ORDER, code in TERMINAL, code == "pending")
                for code, label in STATUSES
            ],
            transitions=[types.Transition(types.Dimension.ORDER, a, b) for a, b in MOVES],
            carriers=[canonical for canonical, _ in CARRIERS],
            config=[
                types.ConfigField(
                    "api-key", "The shop's API key (Example Shop › Settings › API keys)", True, True, None
                ),
                types.ConfigField(
                    "intake-since",
                    "Where the first pull starts: a date 2026-01-31 or an RFC 3339 time; unset, 30 days back",
                    False,
                    False,
                    None,
                ),
            ],
            extra_hosts=[],
        )

    def push_status(self, platform_order_id, dimension, from_, to, idempotency_key):
        if dimension != types.Dimension.ORDER:
            raise rejected(f"Example Shop has only the order dimension, not {dimension.name.lower()}")
        client = Client()
        # PUT of the status an order already has changes nothing: a retry is safe.
        order = client.call("PUT", f"/orders/{segment(platform_order_id)}/status", body={"status": to})
        host.log(host.LogLevel.INFO, f"order {platform_order_id}: {from_} → {order.get('status')}")
        return types.Receipt(None, f"order {platform_order_id} is now {order.get('status')}")

    def upload_shipment(self, shipment, idempotency_key):
        client = Client()
        order_path = f"/orders/{segment(shipment.platform_order_id)}"
        # Refuse an unknown carrier before anything is sent.
        packages = [(package, carrier_name(package.carrier)) for package in shipment.packages]
        # The shop keeps every shipment it is sent: read what the order has and
        # send only what is missing, so that a retry adds nothing twice.
        order = client.call("GET", order_path)
        existing = {s.get("tracking_number"): s.get("id") for s in order.get("shipments") or []}
        ids = []
        added = 0
        for package, name in packages:
            if package.tracking_number in existing:
                ids.append(existing[package.tracking_number])
                continue
            created = client.call(
                "POST",
                order_path + "/shipments",
                body={
                    "carrier": name,
                    "tracking_number": package.tracking_number,
                    "tracking_url": package.tracking_url,
                    "shipped_at": shipment.shipped_at,
                },
            )
            existing[package.tracking_number] = created.get("id")
            ids.append(created.get("id"))
            added += 1
        return types.Receipt(
            ",".join(str(i) for i in ids) if ids else None,
            f"order {shipment.platform_order_id}: {added} shipment(s) added, {len(packages) - added} already present",
        )


def first_since():
    """Where the first pull starts: `intake-since`, or 30 days back."""
    value = (host.config("intake-since") or "").strip()
    if not value:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 30 * DAY_SECONDS))
    if DATE.match(value):
        return value + "T00:00:00Z"
    if DATE_TIME.match(value):
        return value
    raise config_error(
        f'config field "intake-since": "{value}" is not a date (2026-01-31) '
        "or an RFC 3339 time (2026-01-31T08:00:00Z)"
    )


def read_cursor(cursor):
    """The cursor: `since` (the `updated_after` of the next request), `page`,
    and the ids already handed in whose `updated_at` is exactly `since`."""
    if cursor is None:
        return first_since(), 1, []
    try:
        c = json.loads(cursor)
        if isinstance(c["since"], str) and isinstance(c["page"], int) and c["page"] >= 1 and isinstance(c["seen"], list):
            return c["since"], c["page"], c["seen"]
    except (ValueError, KeyError, TypeError):
        pass
    raise rejected(f"cursor {cursor} is not one this plugin wrote")


def text(value, what):
    if not isinstance(value, str):
        raise rejected(f"{what} is not a string: {json.dumps(value)}")
    return value


def minor(value, what):
    if not isinstance(value, int) or isinstance(value, bool):
        raise rejected(f"{what} is not an amount in minor units: {json.dumps(value)}")
    return value


def incoming(order):
    """An Example Shop order as an `incoming-order`."""
    order_id = text(order.get("id"), "order id")
    at = f"order {order_id}:"
    currency = text(order.get("currency"), f"{at} currency")
    customer = order.get("customer") or {}
    lines = []
    for i, line in enumerate(order.get("lines") or []):
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            raise rejected(f"{at} lines[{i}].quantity is not a count: {json.dumps(quantity)}")
        lines.append(
            intake.OrderLine(
                text(line.get("id"), f"{at} lines[{i}].id"),
                text(line.get("sku"), f"{at} lines[{i}].sku"),
                text(line.get("name"), f"{at} lines[{i}].name"),
                quantity,
                intake.Money(minor(line.get("unit_price"), f"{at} lines[{i}].unit_price"), currency),
            )
        )
    shipping = order.get("shipping")
    return intake.Inbound_Order(
        intake.IncomingOrder(
            platform_order_id=order_id,
            customer=intake.Customer(
                text(customer.get("id"), f"{at} customer.id"),
                text(customer.get("name") or "", f"{at} customer.name"),
                customer.get("email"),
                customer.get("phone"),
                [text(l, f"{at} customer.address[{i}]") for i, l in enumerate(customer.get("address") or [])],
            ),
            lines=lines,
            shipping=None if shipping is None else intake.Money(minor(shipping, f"{at} shipping"), currency),
            payment_method=text(order.get("payment_method") or "", f"{at} payment_method"),
            statuses=[intake.StatusValue(types.Dimension.ORDER, text(order.get("status"), f"{at} status"))],
            created_at=text(order.get("created_at"), f"{at} created_at"),
            updated_at=text(order.get("updated_at"), f"{at} updated_at"),
        )
    )


class Intake(wit_world.exports.Intake):
    def pull(self, cursor):
        client = Client()
        since, page, seen = read_cursor(cursor)
        answer = client.call(
            "GET", "/orders", query={"updated_after": since, "page": page, "per_page": ORDER_PAGE}
        )
        orders = answer.get("orders") if isinstance(answer, dict) else None
        total_pages = answer.get("total_pages") if isinstance(answer, dict) else None
        if not isinstance(orders, list) or not isinstance(total_pages, int):
            raise rejected(f'GET /orders answered without "orders" and "total_pages": {json.dumps(answer)[:300]}')
        # Orders come by updated_at, then id; those at exactly `since` that an
        # earlier pull handed in come again and are skipped.
        items = [incoming(o) for o in orders if not (o.get("updated_at") == since and o.get("id") in seen)]
        if not orders:
            following = {"since": since, "page": page, "seen": seen}
        else:
            last = orders[-1].get("updated_at")
            at_last = [o.get("id") for o in orders if o.get("updated_at") == last]
            if last == since:
                # A whole page at one time: the next page holds the rest of it.
                following = {"since": since, "page": page + 1, "seen": seen + [i for i in at_last if i not in seen]}
            else:
                following = {"since": last, "page": 1, "seen": at_last}
        return intake.Batch(items, json.dumps(following, separators=(",", ":")), page < total_pages)

    def accept_webhook(self, headers, body):
        raise unsupported(
            "Example Shop sends no webhooks: give the channel a poll interval and its orders are pulled"
        )
