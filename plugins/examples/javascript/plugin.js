// Statusport platform plugin for Example Shop, in JavaScript.
//
// Built with jco (componentize-js) against the contract in wit/v1.1, world
// `intake-adapter`: it exports `adapter` (describe, push-status,
// upload-shipment) and `intake` (pull, accept-webhook), and imports the
// host's `log` and `config` and outbound HTTP, which `fetch` goes through.
//
// Example Shop's API (the README describes it):
//   GET  /orders?updated_after=…&page=…&per_page=…   orders changed since, paged
//   GET  /orders/{id}                                one order with its shipments
//   PUT  /orders/{id}/status        {"status"}       a status change
//   POST /orders/{id}/shipments     {"carrier", "tracking_number", …}
// Every request carries `Authorization: Bearer <api key>`.
//
// Build: `npm ci`, then `npm run build` (example-shop.wasm here), or
// `cargo xtask plugins` (target/example-plugins/javascript-example.wasm).
// package.json pins jco 1.35.0 and componentize-js 0.22.0 (the one jco
// 1.35.0 calls), and @bytecodealliance/preview2-shim 0.26.0 for every
// package: with 0.26.1, jco's WIT reader gets no filesystem and
// `jco componentize` fails with "failed to get path metadata".

import { config, log } from "statusport:adapter/host@1.1.0";

const PLUGIN = "example-shop-js";
const ORDER_PAGE = 50;
const QUOTE_LIMIT = 300;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Canonical carrier ids and Example Shop's names for them. */
const CARRIERS = [
  ["dhl", "DHL"],
  ["dpd", "DPD"],
  ["gls", "GLS"],
  ["ups", "UPS"],
  ["fedex", "FedEx"],
  ["hermes", "Hermes"],
  ["other", "Other"],
];

const STATUSES = [
  ["pending", "Pending payment"],
  ["paid", "Paid"],
  ["packed", "Packed"],
  ["shipped", "Shipped"],
  ["delivered", "Delivered"],
  ["cancelled", "Cancelled"],
];
const TERMINAL = new Set(["delivered", "cancelled"]);
const MOVES = [
  ["pending", "paid"],
  ["pending", "cancelled"],
  ["paid", "packed"],
  ["paid", "cancelled"],
  ["packed", "shipped"],
  ["packed", "cancelled"],
  ["shipped", "delivered"],
];

/**
 * An `adapter-error`. componentize-js returns a thrown value's `payload` as
 * the `err` of a `result`; any other thrown Error is a bug and traps.
 */
class AdapterError extends Error {
  constructor(tag, message, retryAfterMs) {
    super(message);
    const val =
      tag === "transient"
        ? {
            message,
            retryAfterMs:
              retryAfterMs === undefined ? undefined : BigInt(Math.round(retryAfterMs)),
          }
        : message;
    this.payload = { tag, val };
  }
}

const rejected = (message) => new AdapterError("rejected", message);
const configError = (message) => new AdapterError("config", message);

function requireConfig(name) {
  const value = config(name);
  if (value === undefined || value.trim() === "") {
    throw configError(`config field "${name}" is not set: set it on the channel`);
  }
  return value;
}

/** The channel's base URL, checked to be http(s) with a host. */
function baseUrl() {
  const text = requireConfig("base-url");
  let url;
  try {
    url = new URL(text);
  } catch (e) {
    throw configError(
      `base URL "${text}" is not a URL (${e.message}): use e.g. https://shop.example.com/api`,
    );
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) {
    throw configError(`base URL "${text}" must be an http or https URL with a host`);
  }
  // The API key goes in a header: never over plain http to another machine.
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const local = host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (url.protocol === "http:" && !local) {
    throw configError(
      `base URL "${text}" is plain http: the API key would cross the network unencrypted; use https://`,
    );
  }
  return url;
}

/** Example Shop's client: the base URL and the API key. */
function client() {
  const base = baseUrl();
  const apiKey = requireConfig("api-key");
  const prefix = base.pathname.replace(/\/+$/, "");
  return {
    url(path, query) {
      const url = new URL(base.href);
      url.pathname = prefix + path;
      url.search = query ? new URLSearchParams(query).toString() : "";
      return url.href;
    },
    apiKey,
  };
}

/** What a platform's error body says: `code: message`, else the start of the text. */
function platformMessage(text) {
  try {
    const body = JSON.parse(text);
    if (body && typeof body.message === "string" && body.message.trim() !== "") {
      return typeof body.code === "string" && body.code !== ""
        ? `${body.code}: ${body.message}`
        : body.message;
    }
  } catch {
    // not JSON: quote the text
  }
  const trimmed = text.trim();
  return trimmed.length > QUOTE_LIMIT ? `${trimmed.slice(0, QUOTE_LIMIT)}…` : trimmed;
}

/** A Retry-After value (seconds or an HTTP date) in milliseconds. */
function retryAfterMs(value) {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The error for an answer that is not a success, as the Rust SDK maps it. */
function statusError(what, status, retryAfter, text) {
  const said = platformMessage(text);
  const message = said
    ? `${what}: the platform answered HTTP ${status}: ${said}`
    : `${what}: the platform answered HTTP ${status}`;
  if (status === 401 || status === 403) return new AdapterError("auth", message);
  if (status === 408 || status === 425 || status === 429 || status >= 500) {
    return new AdapterError("transient", message, retryAfterMs(retryAfter));
  }
  return rejected(message);
}

/** Sends a request and answers the JSON of a 2xx answer; anything else throws. */
async function call(api, method, path, { query, body } = {}) {
  const url = api.url(path, query);
  const what = `${method} ${url}`;
  const headers = { accept: "application/json", authorization: `Bearer ${api.apiKey}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  let text;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    text = await response.text();
  } catch (e) {
    // No answer (refused connection, timeout): worth trying again later.
    throw new AdapterError("transient", `${what}: ${e && e.message ? e.message : e}`);
  }
  if (response.status < 200 || response.status > 299) {
    throw statusError(what, response.status, response.headers.get("retry-after"), text);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw rejected(`${what}: the platform's answer is not the JSON expected (${e.message}): ${platformMessage(text)}`);
  }
}

/** Escapes a value for one path segment. */
const segment = (value) => encodeURIComponent(value);

function carrierName(carrier) {
  const wanted = carrier.trim().toLowerCase();
  const found = CARRIERS.find(([id]) => id === wanted);
  if (!found) {
    throw rejected(
      `carrier "${carrier}" is not known to this plugin (known: ${CARRIERS.map(([id]) => id).join(", ")})`,
    );
  }
  return found[1];
}

/**
 * What `describe` answers: built once, when the component is made (the
 * module's top level runs before the snapshot), not on every call.
 */
const PLATFORM_INFO = {
  id: PLUGIN,
  name: "Example Shop (JavaScript example)",
  version: "1.0.0",
  statuses: STATUSES.map(([code, label]) => ({
    code,
    label,
    dimension: "order",
    terminal: TERMINAL.has(code),
    initial: code === "pending",
  })),
  transitions: MOVES.map(([from, to]) => ({ dimension: "order", from, to })),
  carriers: CARRIERS.map(([id]) => id),
  config: [
    {
      name: "api-key",
      help: "The shop's API key (Example Shop › Settings › API keys)",
      secret: true,
      required: true,
      defaultValue: undefined,
    },
    {
      name: "intake-since",
      help: "Where the first pull starts: a date 2026-01-31 or an RFC 3339 time; unset, 30 days back",
      secret: false,
      required: false,
      defaultValue: undefined,
    },
  ],
  extraHosts: [],
};

export const adapter = {
  describe() {
    return PLATFORM_INFO;
  },

  async pushStatus(platformOrderId, dimension, from, to, _idempotencyKey) {
    if (dimension !== "order") {
      throw rejected(`Example Shop has only the order dimension, not ${dimension}`);
    }
    const api = client();
    // PUT of the status an order already has changes nothing: a retry is safe.
    const order = await call(api, "PUT", `/orders/${segment(platformOrderId)}/status`, {
      body: { status: to },
    });
    log("info", `order ${platformOrderId}: ${from} → ${order.status}`);
    return { reference: undefined, summary: `order ${platformOrderId} is now ${order.status}` };
  },

  async uploadShipment(shipment, _idempotencyKey) {
    const api = client();
    const orderPath = `/orders/${segment(shipment.platformOrderId)}`;
    // Refuse an unknown carrier before anything is sent.
    const packages = shipment.packages.map((p) => ({ ...p, name: carrierName(p.carrier) }));
    // The shop keeps every shipment it is sent: read what the order has and
    // send only what is missing, so that a retry adds nothing twice.
    const order = await call(api, "GET", orderPath);
    const existing = new Map(
      (Array.isArray(order.shipments) ? order.shipments : []).map((s) => [s.tracking_number, s.id]),
    );
    const ids = [];
    let added = 0;
    for (const p of packages) {
      if (existing.has(p.trackingNumber)) {
        ids.push(existing.get(p.trackingNumber));
        continue;
      }
      const created = await call(api, "POST", `${orderPath}/shipments`, {
        body: {
          carrier: p.name,
          tracking_number: p.trackingNumber,
          tracking_url: p.trackingUrl ?? null,
          shipped_at: shipment.shippedAt,
        },
      });
      existing.set(p.trackingNumber, created.id);
      ids.push(created.id);
      added += 1;
    }
    return {
      reference: ids.length > 0 ? ids.join(",") : undefined,
      summary: `order ${shipment.platformOrderId}: ${added} shipment(s) added, ${packages.length - added} already present`,
    };
  },
};

/** Where the first pull starts: `intake-since`, or 30 days back. */
function firstSince() {
  const value = config("intake-since");
  if (value === undefined || value.trim() === "") {
    return new Date(Date.now() - 30 * DAY_MS).toISOString().replace(/\.\d{3}Z$/, "Z");
  }
  const text = value.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`))) {
    return `${text}T00:00:00Z`;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text) && !Number.isNaN(Date.parse(text))) {
    return text;
  }
  throw configError(
    `config field "intake-since": "${text}" is not a date (2026-01-31) or an RFC 3339 time (2026-01-31T08:00:00Z)`,
  );
}

/**
 * The cursor: `since` (the `updated_after` of the next request), `page`,
 * and the ids already handed in whose `updated_at` is exactly `since`.
 */
function readCursor(cursor) {
  if (cursor === undefined) return { since: firstSince(), page: 1, seen: [] };
  try {
    const c = JSON.parse(cursor);
    if (typeof c.since === "string" && Number.isInteger(c.page) && c.page >= 1 && Array.isArray(c.seen)) {
      return c;
    }
  } catch {
    // falls through to the error
  }
  throw rejected(`cursor ${cursor} is not one this plugin wrote`);
}

function text(value, what) {
  if (typeof value !== "string") throw rejected(`${what} is not a string: ${JSON.stringify(value)}`);
  return value;
}

function minor(value, what) {
  if (!Number.isSafeInteger(value)) {
    throw rejected(`${what} is not an amount in minor units: ${JSON.stringify(value)}`);
  }
  return BigInt(value);
}

/** An Example Shop order as an `incoming-order`. */
function incoming(order) {
  const id = text(order.id, "order id");
  const at = `order ${id}:`;
  const currency = text(order.currency, `${at} currency`);
  const customer = order.customer ?? {};
  return {
    tag: "order",
    val: {
      platformOrderId: id,
      customer: {
        id: text(customer.id, `${at} customer.id`),
        name: text(customer.name ?? "", `${at} customer.name`),
        email: customer.email ?? undefined,
        phone: customer.phone ?? undefined,
        address: (customer.address ?? []).map((l, i) => text(l, `${at} customer.address[${i}]`)),
      },
      lines: (order.lines ?? []).map((line, i) => {
        if (!Number.isInteger(line.quantity) || line.quantity < 0) {
          throw rejected(`${at} lines[${i}].quantity is not a count: ${JSON.stringify(line.quantity)}`);
        }
        return {
          lineId: text(line.id, `${at} lines[${i}].id`),
          article: text(line.sku, `${at} lines[${i}].sku`),
          name: text(line.name, `${at} lines[${i}].name`),
          quantity: line.quantity,
          unitPrice: { minor: minor(line.unit_price, `${at} lines[${i}].unit_price`), currency },
        };
      }),
      shipping:
        order.shipping === undefined || order.shipping === null
          ? undefined
          : { minor: minor(order.shipping, `${at} shipping`), currency },
      paymentMethod: text(order.payment_method ?? "", `${at} payment_method`),
      statuses: [{ dimension: "order", code: text(order.status, `${at} status`) }],
      createdAt: text(order.created_at, `${at} created_at`),
      updatedAt: text(order.updated_at, `${at} updated_at`),
    },
  };
}

export const intake = {
  async pull(cursor) {
    const api = client();
    const { since, page, seen } = readCursor(cursor);
    const answer = await call(api, "GET", "/orders", {
      query: { updated_after: since, page: String(page), per_page: String(ORDER_PAGE) },
    });
    if (!Array.isArray(answer.orders) || !Number.isInteger(answer.total_pages)) {
      throw rejected(`GET /orders answered without "orders" and "total_pages": ${JSON.stringify(answer).slice(0, QUOTE_LIMIT)}`);
    }
    const orders = answer.orders;
    // Orders come by updated_at, then id; those at exactly `since` that an
    // earlier pull handed in come again and are skipped.
    const fresh = orders.filter((o) => !(o.updated_at === since && seen.includes(o.id)));
    const items = fresh.map(incoming);
    const more = page < answer.total_pages;
    let next;
    if (orders.length === 0) {
      next = { since, page, seen };
    } else {
      const last = orders[orders.length - 1].updated_at;
      const atLast = orders.filter((o) => o.updated_at === last).map((o) => o.id);
      next =
        last === since
          ? // A whole page at one time: the next page holds the rest of it.
            { since, page: page + 1, seen: [...new Set([...seen, ...atLast])] }
          : { since: last, page: 1, seen: atLast };
    }
    return { items, nextCursor: JSON.stringify(next), more };
  },

  acceptWebhook(_headers, _body) {
    throw new AdapterError(
      "unsupported",
      "Example Shop sends no webhooks: give the channel a poll interval and its orders are pulled",
    );
  },
};
